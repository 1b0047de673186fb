"""Slowing down password guessing: after too many failures a username is locked for a while.

Counted per username and client address in the database (so every web process sees the same
count); a success clears that pair's failures. The lock is temporary and says how long it lasts.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone

from connections.library.audit import client_ip
from connections.models import LoginFailure


def _window() -> timedelta:
    return timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def _recent(username: str, ip: str | None):
    return LoginFailure.objects.filter(username=username.lower(), ip=ip, at__gte=timezone.now() - _window())


def seconds_locked(request: HttpRequest, username: str) -> int:
    """How long ``username`` stays locked from this address (0: it may try)."""
    failures = list(
        _recent(username, client_ip(request))
        .order_by("-at")
        .values_list("at", flat=True)[: settings.LOGIN_FAILURE_LIMIT]
    )
    if len(failures) < settings.LOGIN_FAILURE_LIMIT:
        return 0
    unlock = failures[-1] + _window()
    return max(0, math.ceil((unlock - timezone.now()).total_seconds()))


def record_failure(request: HttpRequest, username: str) -> None:
    LoginFailure.objects.filter(at__lt=timezone.now() - _window()).delete()
    LoginFailure.objects.create(username=username.lower()[:150], ip=client_ip(request))


def clear(request: HttpRequest, username: str) -> None:
    LoginFailure.objects.filter(username=username.lower(), ip=client_ip(request)).delete()


if TYPE_CHECKING:  # the checker reads the mixin as the form it is mixed into
    _LoginForm = AuthenticationForm
else:
    _LoginForm = object


class ThrottledLoginMixin(_LoginForm):
    """For an AuthenticationForm: refuse while locked, count failures, clear on success."""

    request: HttpRequest  # the log-in views always pass it

    def clean(self) -> dict[str, Any]:
        username = (self.data.get("username") or "").strip()
        locked = seconds_locked(self.request, username) if username else 0
        if locked:
            minutes = max(1, round(locked / 60))
            raise ValidationError(
                f"Too many failed log-ins for {username} from your address. Try again in about "
                f"{minutes} minute{'s' if minutes != 1 else ''}, or ask an admin to reset the password.",
                code="locked",
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            if username:
                record_failure(self.request, username)
            raise
        clear(self.request, username)
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your username and password didn't match. Please try again.",
    }


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """Django admin's log-in page is a second door: the same lock applies there."""
