from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from circuits.web.metrics import metrics_view
from circuits.web.urls import tenant_urlpatterns
from circuits.web.views import home, members
from circuits.web.views.health import health
from circuits.web.webhooks import inbound_webhook, test_webhook

urlpatterns = [
    path("", home.home, name="home"),
    path("health", health, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("invite/<str:token>/", members.accept_invite, name="accept_invite"),
    path("hooks/<str:token>", inbound_webhook, name="inbound_webhook"),
    path("hooks/<str:token>/test", test_webhook, name="test_webhook"),
    path("demo/", include("circuits.web.demo.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("circuits.web.api.urls")),
    path("t/<slug:tenant_slug>/", include(tenant_urlpatterns)),
]

handler403 = "circuits.web.views.errors.permission_denied"
handler404 = "circuits.web.views.errors.page_not_found"
handler500 = "circuits.web.views.errors.server_error"
