"""The log-in page, with a temporary lock after repeated failures (connections/accounts/lockout.py)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from connections.accounts.lockout import ThrottledAuthenticationForm


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class LoginView(auth_views.LoginView):
    form_class = ThrottledAuthenticationForm
