"""What the library shows about each connection besides its profile: token, last sync, problems.

``with_status(queryset)`` gives every row

- ``token_state``: "none", "valid", "expired" or "error"; ``token_expires_at``; ``token_error``;
- ``last_sync_status``, ``last_sync_rows``, ``last_sync_at`` and the change counts
  ``last_sync_added``/``_changed``/``_removed`` (None when never synced or not compared);
- ``graph_refusal``: the title of Graph's last refusal (401/403) diagnosis, "" when none.

``health(connection, problems)`` turns those into the one word the health board shows.

The token state comes from the connection's ``ConnectionToken`` row, the refusal from its ``GraphRefusal``; the last
sync comes from the connection's newest ``SyncRun``. Pages call ``with_status`` and ``problems`` and nothing else.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any, NamedTuple

from django.db import models
from django.db.models import OuterRef, Subquery
from django.db.models.query import ModelIterable
from django.utils import timezone

from connections.credentials import expiry as credentials
from connections.models import Connection, ConnectionToken, GraphRefusal, SyncRun
from connections.models.compiled import CompiledQuery
from connections.models.jobs import Lifecycle


def with_status(queryset: models.QuerySet[Connection], *, last_sync: bool = True) -> models.QuerySet[Connection]:
    """``queryset`` whose rows carry the status attributes above.

    Cheap to build and run: the token and refusal rows are joined and only the newest run's id is a subquery;
    the attributes are filled in when the rows are read, with one more query for those runs. (The
    same facts as SQL CASE/subquery annotations cost more to compile than the page took to render.)
    With ``last_sync=False`` the last-sync attributes are left empty for ``fill_last_sync``.
    """
    annotated = queryset.select_related("token", "last_refusal")
    if last_sync:
        newest = SyncRun.objects.filter(connection=OuterRef("pk")).order_by("-created_at").values("pk")[:1]
        annotated = annotated.annotate(_last_sync_id=Subquery(newest))
    annotated._iterable_class = _WithStatus
    return annotated


# The runs a connection's page shows in full (the syncs panel's table and live run), newest first,
# and how many its history chart draws.
RUNS_ON_PAGE = 5
RUNS_IN_HISTORY = 20


# What the panel's table and the live run read of a run: not its deltaLink (long, and only the
# worker reads it), its query options or its store bookkeeping; of who started it, the name.
_RUN_COLUMNS_NOT_SHOWN = {"delta_link", "odata_select", "odata_filter", "heartbeat_at", "stream", "previous", "seq"}
RUN_PANEL_FIELDS = (
    *(field.name for field in SyncRun._meta.concrete_fields if field.name not in _RUN_COLUMNS_NOT_SHOWN),
    "started_by__username",
)


_NEWEST_RUNS = CompiledQuery(
    lambda connection_id: (
        SyncRun.objects.filter(connection_id=connection_id)
        .select_related("started_by")
        .only(*RUN_PANEL_FIELDS)[:RUNS_ON_PAGE]
    ),
    uuid.UUID,
)


def newest_runs(connection: Connection) -> list[SyncRun]:
    """The connection's newest ``RUNS_ON_PAGE`` runs, newest first: one query per page, kept on the row."""
    if not hasattr(connection, "_newest_runs"):
        runs = _NEWEST_RUNS.fetch(connection.pk, related={"connection": connection})
        connection._newest_runs = runs  # type: ignore[attr-defined]
    return connection._newest_runs  # type: ignore[attr-defined]


class _HistoryColumns(NamedTuple):
    status: str
    rows: int
    added: int | None
    changed: int | None
    removed: int | None
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None


class HistoryRun(_HistoryColumns):
    """What the history chart draws of a run: a tuple, not a SyncRun (a chart's worth of model
    instances, with every column a panel shows, cost more than the rest of the syncs panel)."""

    __slots__ = ()
    duration = Lifecycle.duration


_HISTORY = CompiledQuery(
    lambda connection_id: SyncRun.objects.filter(connection_id=connection_id).values_list(*HistoryRun._fields)[
        :RUNS_IN_HISTORY
    ],
    uuid.UUID,
)


def run_history(connection: Connection) -> list[HistoryRun]:
    """The connection's newest ``RUNS_IN_HISTORY`` runs, newest first, as the history chart needs them."""
    return [HistoryRun(*row) for row in _HISTORY.fetch(connection.pk)]


def fill_last_sync(connection: Connection) -> None:
    """The last-sync attributes of a row read with ``with_status(..., last_sync=False)``, from the
    newest of ``newest_runs`` (a page that shows those runs needs no other query for them)."""
    runs = newest_runs(connection)
    _fill_run(connection, runs[0] if runs else None)


# What the last-sync attributes come from.
_RUN_FIELDS = ("status", "rows", "added", "changed", "removed", "created_at", "started_at", "finished_at")


# Named tuples, not SyncRun instances: what _fill_run reads, at a third less the cost.
_RUNS_BY_ID = CompiledQuery(
    lambda ids: SyncRun.objects.filter(pk__in=ids).values_list("pk", *_RUN_FIELDS, named=True), [uuid.UUID]
)


class _WithStatus(ModelIterable):
    """Fills in the status attributes of a page of rows, with one query for their newest runs."""

    def __iter__(self):
        rows = list(super().__iter__())
        ids = [row._last_sync_id for row in rows if getattr(row, "_last_sync_id", None)]
        runs = {run.pk: run for run in _RUNS_BY_ID.fetch(ids)} if ids else {}
        now = timezone.now()
        for row in rows:
            last_id = getattr(row, "_last_sync_id", None)
            _fill(row, runs.get(last_id) if last_id else None, now)
        yield from rows


def _fill(row: Connection, run: Any, now: datetime.datetime) -> None:
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
    refusal: GraphRefusal | None = getattr(row, "last_refusal", None)  # None: no refusal recorded
    diagnosis = refusal.diagnosis if refusal is not None and isinstance(refusal.diagnosis, dict) else {}
    row.graph_refusal = str(diagnosis.get("title") or "")
    _fill_run(row, run)


def _fill_run(row: Connection, run: Any) -> None:
    """From a SyncRun or a named tuple of its ``_RUN_FIELDS`` (None: never synced)."""
    row.last_sync_status = run.status if run else None
    row.last_sync_rows = run.rows if run else None
    row.last_sync_added = run.added if run else None
    row.last_sync_changed = run.changed if run else None
    row.last_sync_removed = run.removed if run else None
    row.last_sync_at = (run.finished_at or run.started_at or run.created_at) if run else None


def problems(connection: Connection, today: datetime.date | None = None) -> list[str]:
    """Plain-word problems of one connection (annotated by ``with_status``), most urgent first."""
    found: list[str] = []
    if connection.uses_certificate:
        if credentials.certificate_of(connection) is None:
            found.append("No certificate is uploaded.")
    else:
        state = connection.secret_state
        if state == "unreadable":
            found.append("The client secret is unreadable with the configured keys — re-enter it.")
        elif state == "none":
            found.append("No client secret is saved.")
    known = getattr(connection, "expiry", None) if today is None else None  # set by credentials.for_page
    level = (known or credentials.expiry(connection, today or timezone.localdate())).level
    what = "certificate" if connection.uses_certificate else "client secret"
    if level == "expired":
        found.append(f"The {what} has expired.")
    elif level in ("7", "1"):
        found.append(f"The {what} expires within {'a day' if level == '1' else '7 days'}.")
    if getattr(connection, "token_state", "none") == "error":
        found.append(f"The last token request failed: {connection.token_error or 'see the connection'}.")
    elif getattr(connection, "token_state", "none") == "sign_in":
        found.append("Someone must sign in with Microsoft again.")
    if getattr(connection, "graph_refusal", ""):
        found.append(f"Graph refused the last read: {connection.graph_refusal}.")
    if getattr(connection, "last_sync_status", None) == SyncRun.Status.FAILED:
        found.append("The last sync failed.")
    if getattr(connection, "delta_stale", False):  # set by the list (deltawindow.stale)
        found.append(
            "The last changes-only sync is almost 7 days old: the next scheduled run will do a full "
            "read; make sure the schedule runs at least weekly."
        )
    return found


class Health(models.TextChoices):
    """The health board's one word per connection, most urgent first (the list sorts by it)."""

    FAILING = "failing", "Failing"
    ATTENTION = "attention", "Needs attention"
    NEVER = "never", "Never run"
    HEALTHY = "healthy", "Healthy"


HEALTH_ORDER: dict[str, int] = {state: rank for rank, state in enumerate(Health)}


def health(connection: Connection, found: list[str], expiry: credentials.Expiry) -> Health:
    """Failing when the work itself fails (token, last sync, Graph's refusal, an expired credential);
    needs attention for anything else ``problems`` found; never run before the first token or sync."""
    failing = (
        getattr(connection, "token_state", "none") == "error"
        or getattr(connection, "last_sync_status", None) == SyncRun.Status.FAILED
        or bool(getattr(connection, "graph_refusal", ""))
        or expiry.level == "expired"
    )
    if failing:
        return Health.FAILING
    if found:
        return Health.ATTENTION
    if getattr(connection, "token_state", "none") == "none" and not getattr(connection, "last_sync_status", None):
        return Health.NEVER
    return Health.HEALTHY
