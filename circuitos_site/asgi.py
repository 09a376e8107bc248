"""ASGI entry: HTTP through Django, WebSocket through Channels with session auth.

HTTP passes `RequestLimitMiddleware` first (bodies counted while they arrive, chunked ones
made readable, unstorable query text refused) — before any routing or authentication.
A WebSocket path no route matches is accepted and closed with 4404 (`NotFoundConsumer`)
instead of failing the handshake with a 500.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "circuitos_site.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from circuitos_site.limits import RequestLimitMiddleware  # noqa: E402
from circuits.web.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": RequestLimitMiddleware(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
