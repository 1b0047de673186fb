"""A connection's sync schedule: the operators' choice, kept beside the PeriodicTask beat runs."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone as dj_timezone
from django_celery_beat.models import PeriodicTask

from .profiles import Connection

# What ``SyncSchedule.next_run`` and the schedule panel read of beat's task row (PeriodicTask.schedule
# reads its interval, crontab, solar or clocked); pages leave the rest unloaded.
TASK_COLUMNS_READ = ("enabled", "last_run_at", "date_changed", "interval", "crontab", "solar", "clocked")
TASK_COLUMNS_NOT_READ = tuple(
    field.name
    for field in PeriodicTask._meta.concrete_fields
    if not field.primary_key and field.name not in TASK_COLUMNS_READ
)


class SyncSchedule(models.Model):
    """Every N minutes or hours, or a cron expression read in ``timezone``. ``syncs.schedules.save``
    mirrors it into django-celery-beat's ``PeriodicTask`` (and its interval or crontab row), which
    the database scheduler of ``celery beat`` runs; this row keeps what the operator typed."""

    class Kind(models.TextChoices):
        INTERVAL = "interval", "Every …"
        CRON = "cron", "Cron expression"

    class Unit(models.TextChoices):
        MINUTES = "minutes", "minutes"
        HOURS = "hours", "hours"
        SECONDS = "seconds", "seconds"  # not offered on the page; tests and the shell only

    connection = models.OneToOneField(Connection, on_delete=models.CASCADE, related_name="sync_schedule")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.INTERVAL)
    every = models.PositiveIntegerField(default=60)
    unit = models.CharField(max_length=8, choices=Unit.choices, default=Unit.MINUTES)
    cron = models.CharField(
        "cron expression",
        max_length=100,
        blank=True,
        help_text="minute hour day-of-month month day-of-week, e.g. 30 6 * * 1-5",
    )
    timezone = models.CharField("time zone", max_length=64, default="UTC")
    enabled = models.BooleanField(default=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=dj_timezone.now)

    def __str__(self) -> str:
        return f"schedule of {self.connection_id}: {self.describe()}"

    def describe(self) -> str:
        """The schedule in words, as the page shows it."""
        if self.kind == self.Kind.CRON:
            return f"cron {self.cron} ({self.timezone})"
        unit = self.unit if self.every != 1 else self.unit.rstrip("s")
        return f"every {self.every} {unit}"

    def next_run(self) -> datetime | None:
        """When beat will next start a sync (in UTC; pages show it in the schedule's time zone)."""
        task = self.periodic_task
        if task is None or not task.enabled:
            return None
        last = task.last_run_at or task.date_changed or dj_timezone.now()
        remaining = task.schedule.remaining_estimate(last)
        return dj_timezone.now() + max(remaining, timedelta(0))
