"""Top-level URLs: auth, admin, health, and the connection library."""

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from connections.api.metrics import metrics_view
from connections.api.urls import api_urls
from connections.sso.views import LoginPage, SignOutView
from connections.views import health


@login_not_required
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask for /favicon.ico where a page names no icon (downloads, JSON, the admin)."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("healthz/live", health.live, name="healthz_live"),
    path("healthz/ready", health.ready, name="healthz_ready"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", api_urls()),
    path("favicon.ico", favicon, name="favicon"),
    path("accounts/login/", LoginPage.as_view(), name="login"),
    path("accounts/logout/", SignOutView.as_view(), name="logout"),
    path("sso/", include("connections.sso.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("connections.urls")),
]
