"""Top-level URLs: auth, admin, health, and the connection library."""
from django.contrib import admin
from django.urls import include, path

from connections.sso.views import LoginPage, SignOutView
from connections.views.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", LoginPage.as_view(), name="login"),
    path("accounts/logout/", SignOutView.as_view(), name="logout"),
    path("sso/", include("connections.sso.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("connections.urls")),
]
