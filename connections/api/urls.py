"""``/api/v1/``: the API's routes, each open to the login-required middleware (the API answers
401 itself, as problem+json, rather than redirecting to the log-in page), and a last route that
answers any other path under it with a problem+json 404 rather than the HTML page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, re_path
from django.views.decorators.csrf import csrf_exempt

from . import problems
from .routes import api


def _open(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback.login_required = False  # type: ignore[attr-defined]  # what login_not_required sets
        else:
            _open(list(pattern.url_patterns))
    return patterns


@csrf_exempt  # nothing is done: the answer is the same for every method
@login_not_required
def no_such_path(request: HttpRequest, rest: str = "") -> HttpResponse:
    return problems.response("not-found", "No such API path; the document at /api/v1/schema lists them.", request)


def api_urls() -> tuple[Any, str, str]:
    patterns, app_name, namespace = api.urls
    return [*_open(list(patterns)), re_path(r"^(?P<rest>.*)$", no_such_path)], app_name, namespace
