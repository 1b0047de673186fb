"""``/api/v1/``: the API's routes, each open to the login-required middleware (the API answers
401 itself, as problem+json, rather than redirecting to the log-in page)."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, URLResolver

from .routes import api


def _open(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback.login_required = False  # type: ignore[attr-defined]  # what login_not_required sets
        else:
            _open(list(pattern.url_patterns))
    return patterns


def urls() -> tuple[Any, str, str]:
    patterns, app_name, namespace = api.urls
    return _open(list(patterns)), app_name, namespace
