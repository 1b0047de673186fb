"""Live fragments: the one contract between a polled fragment and the page around it.

A fragment polls itself every second while its work runs; its template drops ``hx-trigger``
once the work is finished, and that response carries ``connection-changed``, on which the page's
panels re-render. A polled fragment whose object is gone (deleted, or access lost) answers 286,
which makes htmx stop polling, instead of a 404 every second for as long as the tab stays open.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.middleware import HtmxDetails

from ..models import Connection

FINISHED_EVENT = "connection-changed"
STOP_POLLING = 286  # htmx: stop the polling trigger of the element that asked


class HtmxHttpRequest(HttpRequest):
    """For the type checker: a request django-htmx's middleware has given ``request.htmx``."""

    htmx: HtmxDetails


def started(
    request: HtmxHttpRequest, connection: Connection, template: str, context: dict[str, Any], message: str
) -> HttpResponse:
    """After a button queued work: its live fragment for htmx, else a message on the detail page."""
    if request.htmx:
        return render(request, template, context)
    messages.info(request, message)
    return redirect("connections:detail", pk=connection.pk)


def polled(request: HttpRequest, template: str, context: dict[str, Any], *, finished: bool) -> HttpResponse:
    """One poll of a fragment; a finished one tells the page to re-render its panels."""
    response = render(request, template, context)
    if finished:
        response["HX-Trigger"] = FINISHED_EVENT
    return response


def stops_polling_when_gone(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For htmx polls: a 404 becomes a 286 with a short note, so the fragment stops asking."""

    @wraps(view)
    def wrapper(request: HtmxHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Http404:
            if not request.htmx:
                raise
            return HttpResponse(
                '<p class="muted">This is no longer available: the connection or its '
                "run was deleted, or you no longer have access. Reload the page.</p>",
                status=STOP_POLLING,
            )

    return wrapper
