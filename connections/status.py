"""What the library shows about each connection besides its profile: token, last sync, problems.

``with_status(queryset)`` gives every row

- ``token_state``: "none", "valid", "expired" or "error"; ``token_expires_at``; ``token_error``;
- ``last_sync_status``, ``last_sync_rows``, ``last_sync_at`` (None when never synced).

The token state comes from the connection's ``ConnectionToken`` row; the last sync comes from the connection's newest
``SyncRun``. Pages call ``with_status`` and ``problems`` and nothing else.
"""
from __future__ import annotations

import datetime

from django.db import models
from django.db.models import OuterRef, Subquery
from django.db.models.query import ModelIterable
from django.utils import timezone

from .models import Connection, ConnectionToken, SyncRun


def with_status(queryset: models.QuerySet[Connection]) -> models.QuerySet[Connection]:
    """``queryset`` whose rows carry the status attributes above.

    Cheap to build and run: the token row is joined and only the newest run's id is a subquery;
    the attributes are filled in when the rows are read, with one more query for those runs. (The
    same facts as SQL CASE/subquery annotations cost more to compile than the page took to render.)
    """
    newest = SyncRun.objects.filter(connection=OuterRef("pk")).order_by("-created_at").values("pk")[:1]
    annotated = queryset.select_related("token").annotate(_last_sync_id=Subquery(newest))
    annotated._iterable_class = _WithStatus
    return annotated


class _WithStatus(ModelIterable):
    """Fills in the status attributes of a page of rows, with one query for their newest runs."""

    def __iter__(self):  # type: ignore[override]
        rows = list(super().__iter__())
        ids = [row._last_sync_id for row in rows if row._last_sync_id]
        runs = {run.pk: run for run in SyncRun.objects.filter(pk__in=ids).only(
            "status", "rows", "created_at", "started_at", "finished_at")} if ids else {}
        now = timezone.now()
        for row in rows:
            _fill(row, runs.get(row._last_sync_id), now)
        yield from rows


def _fill(row: Connection, run: SyncRun | None, now: datetime.datetime) -> None:
    try:
        token: ConnectionToken | None = row.token
    except ConnectionToken.DoesNotExist:
        token = None
    if token is None:
        row.token_state = "none"
    elif token.state == ConnectionToken.State.VALID and token.expires_at and token.expires_at <= now:
        row.token_state = "expired"
    else:
        row.token_state = token.state
    row.token_expires_at = token.expires_at if token else None
    error = token.error if token is not None and isinstance(token.error, dict) else {}
    row.token_error = str(error.get("title") or "")
    row.last_sync_status = run.status if run else None
    row.last_sync_rows = run.rows if run else None
    row.last_sync_at = (run.finished_at or run.started_at or run.created_at) if run else None


def problems(connection: Connection, today: datetime.date | None = None) -> list[str]:
    """Plain-word problems of one connection (annotated by ``with_status``), most urgent first."""
    found: list[str] = []
    state = connection.secret_state
    if state == "unreadable":
        found.append("The client secret is unreadable with the configured keys — re-enter it.")
    elif state == "none":
        found.append("No client secret is saved.")
    level = connection.secret_expiry_level(today or timezone.localdate())
    if level == "expired":
        found.append("The client secret has expired.")
    elif level == "alarm":
        found.append("The client secret expires within 7 days.")
    if getattr(connection, "token_state", "none") == "error":
        found.append(f"The last token request failed: {connection.token_error or 'see the connection'}.")
    elif getattr(connection, "token_state", "none") == "sign_in":
        found.append("Someone must sign in with Microsoft again.")
    if getattr(connection, "last_sync_status", None) == SyncRun.Status.FAILED:
        found.append("The last sync failed.")
    return found
