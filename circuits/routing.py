from django.urls import path

from circuits.consumers import TenantEventsConsumer

websocket_urlpatterns = [
    path("ws/t/<slug:tenant_slug>/events/", TenantEventsConsumer.as_asgi()),
]
