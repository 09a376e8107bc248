from django.urls import path, re_path

from circuits.web.consumers import ExecutionConsumer, NotFoundConsumer, TenantEventsConsumer

websocket_urlpatterns = [
    path("ws/t/<slug:tenant_slug>/events/", TenantEventsConsumer.as_asgi()),
    path("ws/t/<slug:tenant_slug>/executions/<int:execution_id>/", ExecutionConsumer.as_asgi()),
    # Last: any other path is answered with a 4404 close instead of a failed (500) handshake.
    re_path(r"", NotFoundConsumer.as_asgi()),
]
