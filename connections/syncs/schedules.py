"""Sync schedules: each connection's "sync every N minutes / hours, or on a cron expression in its
time zone", run by ``celery beat`` with django-celery-beat's database scheduler — our own rows say
what the operator chose, its ``PeriodicTask`` is what beat reads. Beat only queues the light task
``connections.scheduled_sync``; that task starts a sync the same way Sync now does, so a run
already queued or running is never started twice (the database's one-active-run constraint).
"""

from __future__ import annotations

import json
import zoneinfo
from functools import lru_cache
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from connections.library import audit
from connections.models import Connection, SyncSchedule

TASK = "connections.scheduled_sync"
EXPIRES = 300  # seconds: a fire no worker picked up within this is dropped, never piled up
MAX_EVERY = {"seconds": 86_400, "minutes": 60 * 24 * 31, "hours": 24 * 366}


class ScheduleError(ValueError):
    """What the operator typed cannot be a schedule; the message says why, in their words."""


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def check_cron(expression: str) -> list[str]:
    """The five fields of a cron expression, or ScheduleError naming the field that is wrong."""
    from celery.schedules import ParseException, crontab_parser

    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleError(
            "A cron expression has five fields: minute, hour, day of month, month, day of week (e.g. 30 6 * * 1-5)."
        )
    for value, (name, top, bottom) in zip(
        fields,
        [("minute", 60, 0), ("hour", 24, 0), ("day of month", 31, 1), ("month", 12, 1), ("day of week", 7, 0)],
        strict=True,
    ):
        try:
            crontab_parser(top, bottom).parse(value)
        except (ParseException, ValueError, IndexError):
            raise ScheduleError(f"The {name} field “{value}” is not valid.") from None
    return fields


def save(
    connection: Connection,
    *,
    kind: str,
    every: int = 60,
    unit: str = "minutes",
    cron: str = "",
    time_zone: str = "UTC",
    enabled: bool = True,
    user: Any = None,
) -> SyncSchedule:
    """Create or change the connection's schedule and its PeriodicTask, in one transaction."""
    if time_zone not in time_zones():
        raise ScheduleError(f"“{time_zone}” is not a time zone name (e.g. Europe/Berlin, UTC).")
    if kind == SyncSchedule.Kind.INTERVAL:
        if unit not in MAX_EVERY or not 1 <= every <= MAX_EVERY[unit]:
            raise ScheduleError(f"Every must be a whole number from 1 to {MAX_EVERY.get(unit, 1):,} {unit}.")
    elif kind == SyncSchedule.Kind.CRON:
        cron = " ".join(check_cron(cron))
    else:
        raise ScheduleError("Choose every N minutes or hours, or a cron expression.")
    with transaction.atomic():
        schedule, _ = SyncSchedule.objects.select_for_update().get_or_create(connection=connection)
        before = schedule.describe() if schedule.pk and schedule.periodic_task_id else ""
        schedule.kind, schedule.every, schedule.unit, schedule.cron = kind, every, unit, cron
        schedule.timezone, schedule.enabled, schedule.updated_at = time_zone, enabled, timezone.now()
        schedule.updated_by = user if getattr(user, "pk", None) else None
        schedule.periodic_task = _periodic_task(connection, schedule)
        schedule.save()
    state = "on" if enabled else "paused"
    audit.record(
        user,
        connection,
        audit.Action.EDITED,
        fields=["sync schedule"],
        detail=f"sync schedule {state}: {schedule.describe()}" + (f" (was {before})" if before else ""),
    )
    return schedule


def _periodic_task(connection: Connection, schedule: SyncSchedule) -> PeriodicTask:
    interval = crontab = None
    if schedule.kind == SyncSchedule.Kind.INTERVAL:
        interval, _ = IntervalSchedule.objects.get_or_create(every=schedule.every, period=schedule.unit)
    else:
        minute, hour, day_of_month, month, day_of_week = schedule.cron.split()
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month,
            day_of_week=day_of_week,
            timezone=zoneinfo.ZoneInfo(schedule.timezone),
        )
    task = schedule.periodic_task or PeriodicTask(name=f"sync of connection {connection.pk}", task=TASK)
    task.interval, task.crontab = interval, crontab
    task.args = json.dumps([str(connection.pk)])
    task.enabled, task.expire_seconds = schedule.enabled, EXPIRES
    task.description = f"Sync of {connection.name} ({connection.team})"[:200]
    task.last_run_at = None  # a changed schedule counts from now, not from its last fire
    task.save()
    return task


def remove(connection: Connection, user: Any = None) -> bool:
    """Stop syncing on a schedule (the PeriodicTask goes, so beat forgets it)."""
    schedule = SyncSchedule.objects.filter(connection=connection).select_related("periodic_task").first()
    if schedule is None:
        return False
    with transaction.atomic():
        if schedule.periodic_task is not None:
            schedule.periodic_task.delete()
        schedule.delete()
    audit.record(user, connection, audit.Action.EDITED, fields=["sync schedule"], detail="sync schedule removed")
    return True
