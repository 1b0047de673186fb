"""URLs of Sign in with Microsoft (namespace ``sso``). The callback is the app registration's redirect URI."""

from django.urls import path

from . import views

app_name = "sso"

urlpatterns = [
    path("login/", views.SignInStart.as_view(), name="start"),
    path("callback/", views.SignInCallback.as_view(), name="callback"),
    path("no-access/", views.no_access, name="no_access"),
]
