"""Control characters never reach a view, a form or the database.

PostgreSQL refuses NUL in text (a ``ValueError`` deep inside the driver, so a 500), and other C0
control characters have no business in a name, a search or an OAuth answer. This middleware
strips them from every query parameter, form field and cookie before any view or middleware
after it reads them. Tab, line feed and carriage return stay (multi-line fields); forms that must
be one line refuse those themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, QueryDict

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_controls(text: str) -> str:
    return CONTROL.sub("", text)


def _cleaned(params: QueryDict) -> QueryDict:
    if not any(CONTROL.search(key) or any(CONTROL.search(v) for v in values) for key, values in params.lists()):
        return params
    cleaned = QueryDict(mutable=True, encoding=params.encoding)
    for key, values in params.lists():
        cleaned.setlist(strip_controls(key), [strip_controls(v) for v in values])
    cleaned._mutable = False
    return cleaned


class ControlCharacterMiddleware:
    """Strips control characters from ``request.GET``, ``request.POST`` and ``request.COOKIES``."""

    FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The stubs type GET and POST as a stub-only QueryDict subclass; ours is immutable as well.
        request.GET = _cleaned(request.GET)  # type: ignore[assignment]
        if request.method == "POST" and request.content_type in self.FORM_TYPES:
            request.POST = _cleaned(request.POST)  # type: ignore[assignment]
        if any(CONTROL.search(k) or CONTROL.search(v) for k, v in request.COOKIES.items()):
            request.COOKIES = {strip_controls(k): strip_controls(v) for k, v in request.COOKIES.items()}
        return self.get_response(request)
