"""Our error pages for every status a person can meet, DEBUG on or off.

With DEBUG off Django renders templates/400.html, 403.html, 404.html and 500.html itself. With DEBUG
on (``make run``) it shows its technical pages instead, which are unstyled and speak to developers;
this middleware renders ours there too (a 500 still logs its traceback). A bare 405 (a GET on a
button's address) gets a page in both modes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.urls import Resolver404, is_valid_path, resolve

log = logging.getLogger("django.request")


def error_page(request: HttpRequest, status: int, exception: Exception | None = None) -> HttpResponse:
    """The page for ``status``; the 500 page is rendered without a request context (see 500.html)."""
    if status == 500:
        return HttpResponse(loader.get_template("500.html").render(), status=500)
    context = {"exception": str(exception) if isinstance(exception, PermissionDenied) and str(exception) else ""}
    return render(request, f"{status}.html", context, status=status)


def _status_of(exception: Exception) -> int:
    if isinstance(exception, Http404):
        return 404
    if isinstance(exception, PermissionDenied):
        return 403
    if isinstance(exception, (BadRequest, SuspiciousOperation)):
        return 400
    return 500


class StyledErrorPagesMiddleware:
    """Renders our error pages where DEBUG would show Django's technical ones, and for a bare 405."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.DEBUG and not self._resolves(request.path_info):
            return error_page(request, 404)
        response = self.get_response(request)
        if response.status_code == 405 and not response.content:
            page = error_page(request, 405)
            page["Allow"] = response.get("Allow", "")
            return page
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not settings.DEBUG:
            return None  # Django's own handlers render the same templates
        status = _status_of(exception)
        if status == 500:
            log.error("Internal Server Error: %s", request.path, exc_info=exception)
        return error_page(request, status, exception)

    @staticmethod
    def _resolves(path: str) -> bool:
        """True when the URLconf answers ``path``, or CommonMiddleware would redirect it to ``path/``."""
        try:
            resolve(path)
        except Resolver404:
            return bool(settings.APPEND_SLASH and not path.endswith("/") and is_valid_path(path + "/"))
        return True
