"""The connection list's rows: each connection with what the list shows of it (health, problems,
credential expiry, next scheduled run), worked out here so the template only lays them out."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, fields
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from connections import credentials
from connections.library import deltawindow
from connections.library.status import (
    HEALTH_ORDER,
    Health,
    attach_last_syncs,
    fill_status,
    health,
    problems,
    run_badge,
    with_status,
)
from connections.library.times import When
from connections.models import Connection, SyncSchedule
from connections.models.schedules import TASK_COLUMNS_READ
from connections.models.teams import Can, role_in

# What the list reads of each connection, its token and certificate (the tokens, claims,
# certificates and keys stay in the database).
LIST_FIELDS = (
    "id",
    "team",
    "team__name",
    "name",
    "grant_type",
    "token_version",
    "entity",
    "credential_type",
    "client_secret",
    "secret_expires_on",
    "odata_filter",
    "token__state",
    "token__expires_at",
    "token__error",
    "last_refusal__diagnosis",
    "certificate__not_after",
)

# Each row's schedule, with what its next run needs (beat's task and its interval or crontab).
LIST_SCHEDULE_JOINS = ("sync_schedule__periodic_task__interval", "sync_schedule__periodic_task__crontab")


def _columns(path: str, *names: str) -> list[str]:
    return [f"{path}__{name}" for name in names]


# What deltawindow.is_scheduled and SyncSchedule.next_run read of them (of beat's task, its TASK_COLUMNS_READ).
_LIST_SCHEDULE_FIELDS = (
    *_columns("sync_schedule", "connection", "enabled", "periodic_task"),
    *_columns("sync_schedule__periodic_task", *TASK_COLUMNS_READ),
    *_columns("sync_schedule__periodic_task__interval", "every", "period"),
    *_columns(
        "sync_schedule__periodic_task__crontab",
        "minute",
        "hour",
        "day_of_week",
        "day_of_month",
        "month_of_year",
        "timezone",
    ),
)


@dataclass(frozen=True)
class TokenCell:
    state: str  # "none", "valid", "expired", "error" or "sign_in"
    until: str  # a valid token's end, "HH:MM" in UTC ("" when unknown)
    error: str


@dataclass(frozen=True)
class LastSync:
    status: str
    badge: str
    rows: int | None
    added: int | None  # None: not compared with the run before
    changed: int | None
    removed: int | None
    at: When | None


@dataclass
class ConnectionRow:
    """One row of the list, as the row template shows it (connections/_connection_row.html reads
    nothing else). Reads as its connection too (``row.name``, ``row.token_state``)."""

    connection: Connection = field(metadata={"shown": False})
    can: Can = field(metadata={"shown": False})
    pk: Any
    name: str
    grant_type: str
    token_version: str
    team: str
    entity: str
    token: TokenCell
    last_sync: LastSync | None
    next_run: When | None
    certificate: bool
    expiry: credentials.Expiry
    problems: list[str]
    health: Health

    @property
    def version(self) -> str:
        """Changes whenever anything the row shows changes (its template fragment's cache key)."""
        shown = tuple(getattr(self, f.name) for f in fields(self) if f.metadata.get("shown", True))
        return hashlib.blake2b(repr(shown).encode(), digest_size=16).hexdigest()

    def __getattr__(self, name: str) -> Any:
        if name == "connection":  # not set yet (a copy being made): no such attribute
            raise AttributeError(name)
        return getattr(self.connection, name)


def rows_version(rows: list[ConnectionRow]) -> str:
    """The list's table as a whole: changes with any of its rows, or their order."""
    return hashlib.blake2b("|".join(row.version for row in rows).encode(), digest_size=16).hexdigest()


def _row(connection: Connection, found: list[str], schedule: SyncSchedule | None, now: dt.datetime) -> ConnectionRow:
    expires = connection.token_expires_at
    run = connection.last_sync
    return ConnectionRow(
        connection=connection,
        can=connection.can,
        pk=connection.pk,
        name=connection.name,
        grant_type=connection.get_grant_type_display(),
        token_version=connection.token_version,
        team=connection.team.name,
        entity=connection.entity,
        token=TokenCell(
            connection.token_state,
            f"{expires.astimezone(dt.timezone.utc):%H:%M}" if expires else "",
            connection.token_error,
        ),
        last_sync=LastSync(
            run.status,
            run_badge(run.status),
            run.rows,
            run.added,
            run.changed,
            run.removed,
            When.of(connection.last_sync_at, now),
        )
        if run is not None
        else None,
        next_run=When.of(schedule.next_run(), now) if schedule is not None else None,
        certificate=connection.uses_certificate,
        expiry=connection.expiry,
        problems=found,
        health=health(connection, found, connection.expiry),
    )


def _list_query(request: HttpRequest, team_id: int | None) -> QuerySet[Connection]:
    found = with_status(Connection.objects.for_user(request))
    if team_id is not None:
        found = found.filter(team_id=team_id)
    found = found.select_related("team", "certificate", *LIST_SCHEDULE_JOINS).annotate(
        in_use_end=credentials.in_use_end_subquery(), last_delta_at=deltawindow.last_delta_run_at("pk")
    )
    return found.only(*LIST_FIELDS, *_LIST_SCHEDULE_FIELDS).order_by("team__name", "name")


def list_rows(request: HttpRequest, team_id: int | None = None) -> list[ConnectionRow]:
    """The person's connections (of one of their teams, if given), most urgent first; then by team and name."""
    today = timezone.localdate()
    now = timezone.now()
    rows = []
    for connection in attach_last_syncs(list(_list_query(request, team_id))):
        fill_status(connection, now)
        try:
            schedule: SyncSchedule | None = connection.sync_schedule
        except SyncSchedule.DoesNotExist:
            schedule = None
        last_delta_at = connection.last_delta_at if schedule is not None else None  # type: ignore[attr-defined]
        connection.delta_stale = deltawindow.stale(connection, schedule, last_delta_at, now)
        connection.expiry = credentials.expiry(connection, today)  # problems reads it rather than work it out again
        role = role_in(request, connection.team_id)
        connection.access_role, connection.can = role, Can(role)
        rows.append(_row(connection, problems(connection), schedule, now))
    # Failing first, then needs attention, never run, healthy; stable, so team and name order stays.
    rows.sort(key=lambda row: HEALTH_ORDER[row.health])
    return rows
