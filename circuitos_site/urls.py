from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from circuits.triggers.webhook import inbound_webhook
from circuits.urls import tenant_urlpatterns
from circuits.views import home, members
from circuits.views.health import health

urlpatterns = [
    path("", home.home, name="home"),
    path("health", health, name="health"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("invite/<str:token>/", members.accept_invite, name="accept_invite"),
    path("hooks/<str:token>", inbound_webhook, name="inbound_webhook"),
    path("demo/", include("circuits.demo.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("circuits.api.urls")),
    path("t/<slug:tenant_slug>/", include(tenant_urlpatterns)),
]

handler403 = "circuits.views.errors.permission_denied"
handler404 = "circuits.views.errors.page_not_found"
handler500 = "circuits.views.errors.server_error"
