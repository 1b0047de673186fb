"""How close a scheduled connection is to losing incremental sync.

Microsoft Graph's delta links for identity resources (users, groups, …) live seven days: a
deltaLink used later answers an error ("The delta token is expired and data must be synchronized
again") and the sync has to read everything again (https://learn.microsoft.com/graph/delta-query-overview;
https://devblogs.microsoft.com/microsoft365dev/duration-of-change-tracking-tokens-for-identity-and-education-resources/).
A scheduled connection whose newest successful run holding a deltaLink is older than ``WARN_AFTER``
is about to lose it; only scheduled connections are judged, since a connection synced by hand is
expected to read in full now and then.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from connections.models import Connection, SyncRun, SyncSchedule
from microsoft import catalogue

TOKEN_LIFETIME = dt.timedelta(days=7)
WARN_AFTER = dt.timedelta(days=6)


def last_delta_run_at(outer: str = "connection_id") -> Subquery:
    """When the connection's newest successful run that holds a deltaLink finished (OuterRef: the
    connection's pk, as ``outer``: ``connection_id`` of a schedule, ``pk`` of a connection)."""
    newest = (
        SyncRun.objects.filter(connection_id=OuterRef(outer), status=SyncRun.Status.SUCCEEDED)
        .exclude(delta_link="")
        .annotate(at=Coalesce("finished_at", "started_at", "created_at"))
        .order_by("-at")
        .values("at")[:1]
    )
    return Subquery(newest, output_field=models.DateTimeField())


def schedules_of(connection_ids: list) -> dict:
    """The enabled or paused schedules of these connections, by connection id, in one query; each
    carries ``last_delta_at`` and what ``SyncSchedule.next_run`` reads."""
    found = (
        SyncSchedule.objects.filter(connection_id__in=connection_ids)
        .select_related("periodic_task__interval", "periodic_task__crontab")
        .annotate(last_delta_at=last_delta_run_at())
    )
    return {schedule.connection_id: schedule for schedule in found} if connection_ids else {}


def is_scheduled(schedule: SyncSchedule | None) -> bool:
    return bool(schedule is not None and schedule.enabled and schedule.periodic_task_id)


def stale(
    connection: Connection,
    schedule: SyncSchedule | None,
    last_delta_at: dt.datetime | None,
    now: dt.datetime | None = None,
) -> bool:
    """True when the next scheduled run will have to read everything because the deltaLink ages out."""
    entity = catalogue.lookup(connection.entity)
    if not is_scheduled(schedule) or entity is None or not entity.delta or connection.odata_filter:
        return False
    return last_delta_at is not None and (now or timezone.now()) - last_delta_at > WARN_AFTER
