from django.urls import path

from circuits.consumers import ExecutionConsumer, TenantEventsConsumer

websocket_urlpatterns = [
    path("ws/t/<slug:tenant_slug>/events/", TenantEventsConsumer.as_asgi()),
    path("ws/t/<slug:tenant_slug>/executions/<int:execution_id>/", ExecutionConsumer.as_asgi()),
]
