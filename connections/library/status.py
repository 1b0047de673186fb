"""What the library shows about each connection besides its profile: token, last sync, problems.

``with_status(queryset)`` joins what ``fill_status(row)`` turns into these attributes of each row:

- ``token_state``: "none", "valid", "expired", "error" or "sign_in"; ``token_expires_at``; ``token_error``;
- ``last_sync`` (the newest run, or None) and from it ``last_sync_status``, ``last_sync_rows``,
  ``last_sync_at`` and the change counts ``last_sync_added``/``_changed``/``_removed`` (None when
  never synced or not compared);
- ``graph_refusal``: the title of Graph's last refusal (401/403) diagnosis, "" when none.

``problems(connection)`` and ``health(connection, problems, expiry)`` turn those into what the health
board shows. The token state comes from the connection's ``ConnectionToken`` row, the refusal from its
``GraphRefusal``; the last sync from the connection's newest ``SyncRun``.
"""

from __future__ import annotations

import datetime
from typing import Any, NamedTuple

from django.db import models
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from connections import credentials
from connections.models import Connection, ConnectionToken, GraphRefusal, SyncRun
from connections.models.jobs import Lifecycle

# The runs a connection's page shows in full (the syncs panel's table and live run), newest first,
# and how many its history chart draws.
RUNS_ON_PAGE = 5
RUNS_IN_HISTORY = 20

# One status → badge mapping for runs, wherever a run's status is shown.
RUN_BADGES = {
    SyncRun.Status.SUCCEEDED: "ok",
    SyncRun.Status.FAILED: "bad",
    SyncRun.Status.CANCELLED: "warn",
    SyncRun.Status.INTERRUPTED: "warn",
}


def run_badge(status: str | None) -> str:
    return RUN_BADGES.get(status or "", "muted")  # type: ignore[call-overload]


def with_status(queryset: models.QuerySet[Connection], *, last_sync: bool = True) -> models.QuerySet[Connection]:
    """``queryset`` with the token and refusal joined and (``last_sync``) the id of each row's newest
    run annotated as ``last_sync_id``, which ``attach_last_syncs`` reads in one more query for a page
    of rows. ``fill_status`` turns them into the status attributes."""
    joined = queryset.select_related("token", "last_refusal")
    if last_sync:
        newest = SyncRun.objects.filter(connection=OuterRef("pk")).order_by("-created_at").values("pk")[:1]
        joined = joined.annotate(last_sync_id=Subquery(newest))
    return joined


class _RunColumns(NamedTuple):
    pk: Any
    status: str
    rows: int
    added: int | None
    changed: int | None
    removed: int | None
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None


class RunSummary(_RunColumns):
    """What a list row's last sync and the history chart read of a run: its outcome and times, as
    plain tuples (``values_list``), without the run's deltaLink, options or bookkeeping."""

    __slots__ = ()
    duration = Lifecycle.duration


def run_summaries(runs: models.QuerySet[SyncRun]) -> list[RunSummary]:
    return [RunSummary(*values) for values in runs.values_list(*RunSummary._fields)]


def attach_last_syncs(rows: list[Connection]) -> list[Connection]:
    """Each row's newest run (read with ``with_status``) as ``latest_runs``, in one query."""
    ids = [row.last_sync_id for row in rows if row.last_sync_id is not None]  # type: ignore[attr-defined]
    runs = {run.pk: run for run in run_summaries(SyncRun.objects.filter(pk__in=ids))} if ids else {}
    for row in rows:
        run = runs.get(row.last_sync_id)  # type: ignore[attr-defined]
        row.latest_runs = [run] if run is not None else []  # type: ignore[attr-defined]
    return rows


# What the panel's table and the live run read of a run: not its deltaLink (long, and only the
# worker reads it), its query options or its store bookkeeping; of who started it, the name.
_RUN_COLUMNS_NOT_SHOWN = {"delta_link", "odata_select", "odata_filter", "heartbeat_at", "stream", "previous", "seq"}
RUN_PANEL_FIELDS = (
    *(field.name for field in SyncRun._meta.concrete_fields if field.name not in _RUN_COLUMNS_NOT_SHOWN),
    "started_by__username",
)


def newest_runs(connection: Connection) -> list[SyncRun]:
    """The connection's newest ``RUNS_ON_PAGE`` runs, newest first: read once per page, kept on the row."""
    if not hasattr(connection, "_newest_runs"):
        runs = connection.sync_runs.select_related("started_by").only(*RUN_PANEL_FIELDS)[:RUNS_ON_PAGE]
        connection._newest_runs = list(runs)  # type: ignore[attr-defined]
    return connection._newest_runs  # type: ignore[attr-defined]


def runs_version(runs: list[SyncRun]) -> str:
    """A key that changes whenever anything shown of these runs can change (for fragment caching):
    a new run, a run's progress or its end."""
    return "|".join(f"{run.pk}:{run.status}:{run.pages}:{run.rows}:{run.finished_at}:{run.message}" for run in runs)


def run_history(connection: Connection) -> list[RunSummary]:
    """The connection's newest ``RUNS_IN_HISTORY`` runs, newest first, as the history chart needs them."""
    return run_summaries(connection.sync_runs.all()[:RUNS_IN_HISTORY])


def fill_status(row: Connection, now: datetime.datetime | None = None) -> Connection:
    """The status attributes of a row read with ``with_status``; a row read with ``last_sync=False``
    takes its last sync from the newest of ``newest_runs`` (the page shows those runs anyway)."""
    now = now or timezone.now()
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
    runs = getattr(row, "latest_runs", None)
    if runs is None:
        runs = newest_runs(row)
    run = runs[0] if runs else None
    row.last_sync = run
    row.last_sync_status = run.status if run else None
    row.last_sync_rows = run.rows if run else None
    row.last_sync_added = run.added if run else None
    row.last_sync_changed = run.changed if run else None
    row.last_sync_removed = run.removed if run else None
    row.last_sync_at = (run.finished_at or run.started_at or run.created_at) if run else None
    return row


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
