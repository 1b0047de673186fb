"""The connection list's rows: each connection with what the list shows of it (health, problems,
credential expiry, next scheduled run), worked out here so the template only lays them out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from connections.credentials import expiry as credentials
from connections.library.status import HEALTH_ORDER, Health, fill_status, health, problems, with_status
from connections.models import Connection, SyncSchedule
from connections.models.teams import Can, role_in
from connections.syncs import deltawindow
from connections.syncs import schedules as sync_schedules

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


# What deltawindow.is_scheduled and schedules.next_run read of them (of beat's task, its TASK_COLUMNS_READ).
_LIST_SCHEDULE_FIELDS = (
    *_columns("sync_schedule", "connection", "enabled", "periodic_task"),
    *_columns("sync_schedule__periodic_task", *sync_schedules.TASK_COLUMNS_READ),
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


@dataclass
class ConnectionRow:
    """One row of the list. Reads as its connection too (``row.name``, ``row.token_state``)."""

    connection: Connection
    can: Can
    expiry: credentials.Expiry
    problems: list[str]
    health: Health
    next_run: dt.datetime | None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)


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
    for connection in _list_query(request, team_id):
        fill_status(connection, now)
        try:
            schedule: SyncSchedule | None = connection.sync_schedule
        except SyncSchedule.DoesNotExist:
            schedule = None
        last_delta_at = connection.last_delta_at if schedule is not None else None  # type: ignore[attr-defined]
        connection.delta_stale = deltawindow.stale(connection, schedule, last_delta_at, now)
        connection.expiry = credentials.expiry(connection, today)  # problems reads it rather than work it out again
        found = problems(connection)
        role = role_in(request, connection.team_id)
        connection.access_role, connection.can = role, Can(role)
        rows.append(
            ConnectionRow(
                connection=connection,
                can=connection.can,
                expiry=connection.expiry,
                problems=found,
                health=health(connection, found, connection.expiry),
                next_run=sync_schedules.next_run(schedule) if schedule is not None else None,
            )
        )
    # Failing first, then needs attention, never run, healthy; stable, so team and name order stays.
    rows.sort(key=lambda row: HEALTH_ORDER[row.health])
    return rows
