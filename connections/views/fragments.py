"""Live fragments: the one contract between a polled fragment and the page around it.

A fragment polls itself every second while its work runs; its template drops ``hx-trigger``
once the work is finished, and that response carries ``connection-changed``, on which the page's
panels re-render. A polled fragment whose object is gone (deleted, or access lost) answers 286,
which makes htmx stop polling, instead of a 404 every second for as long as the tab stays open.

Polls are conditional: ``run_etag``/``job_etag`` (for ``django.views.decorators.http.condition``)
name what the fragment shows, so an unchanged one answers 304 without being rendered. Only the
person's own objects get a tag: anything else goes to the view, which answers as it always does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django_htmx.middleware import HtmxDetails

from ..library.times import relative
from ..models import Connection, Job, SyncRun
from ..models.teams import role_in

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
    patch_cache_control(response, private=True, no_cache=True)  # kept by the browser, asked again each poll
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


def _etag(request: HttpRequest, rows: QuerySet[Any], *fields: str) -> str | None:
    """A tag of what the fragment shows of the one row in ``rows`` (scoped to the person), for the
    person's role, with the words of its relative time (``created_at``); None when there is no such row."""
    try:
        found = rows.values_list("connection__team", "created_at", *fields).first()
    except ValidationError:  # a malformed id: the view answers
        return None
    if found is None:
        return None
    # The CSRF cookie: a fragment's forms carry a token made from it (a new one after signing in).
    csrf = request.COOKIES.get(settings.CSRF_COOKIE_NAME, "")
    shown = (request.user.pk, role_in(request, found[0]), relative(found[1]), found[2:], csrf)
    return hashlib.blake2b(repr(shown).encode(), digest_size=16).hexdigest()


def run_etag(request: HttpRequest, pk: Any, run_id: Any) -> str | None:
    """What the live run fragment shows of the run."""
    rows = SyncRun.objects.for_user(request).filter(pk=run_id, connection_id=pk)
    return _etag(
        request, rows, "status", "mode", "pages", "rows", "bytes", "total", "message", "error", "cancel_requested",
        "added", "changed", "removed", "started_at", "finished_at",
    )  # fmt: skip


def job_etag(request: HttpRequest, pk: Any, job_id: Any) -> str | None:
    """What the live job fragment shows of the job."""
    rows = Job.objects.filter(pk=job_id, connection__in=Connection.objects.for_user(request))
    return _etag(request, rows, "state", "progress", "message", "error", "result", "started_at", "finished_at")
