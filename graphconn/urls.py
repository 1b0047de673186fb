"""Top-level URLs: auth, admin, health, and the connection library."""
from django.contrib import admin
from django.urls import include, path

from connections.views.auth import LoginView
from connections.views.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("connections.urls")),
]
