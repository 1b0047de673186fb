"""Sync runs: one read of a connection's entity, and the records it stored."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from ..access import TeamScopedQuerySet


class SyncRunQuerySet(TeamScopedQuerySet):
    team_field = "connection__team"


class SyncRecordQuerySet(TeamScopedQuerySet):
    team_field = "run__connection__team"


class SyncRun(models.Model):
    """One sync of a connection's entity, as people see it in the syncs panel.

    Transitions: QUEUED → RUNNING → SUCCEEDED | FAILED, written by ``sync.run_sync`` only (the
    Job beside it is moved by the Celery signals). At most one run per connection is queued or
    running: a partial unique constraint makes a second one fail at the database, whatever races.
    ``delta_link`` is internal (it names the deltaLink's token); no page renders it.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Mode(models.TextChoices):
        FULL = "full", "Full read"
        DELTA = "delta", "Changes only (delta)"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    connection = models.ForeignKey("connections.Connection", on_delete=models.CASCADE, related_name="sync_runs")
    job = models.OneToOneField("connections.Job", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="sync_run")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                 help_text="the successful run this one is compared with")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.FULL)
    # What was read: copied from the profile when the run starts, so later edits do not blur it.
    entity = models.CharField(max_length=300, blank=True)
    odata_select = models.CharField("$select", max_length=1000, blank=True)
    odata_filter = models.CharField("$filter", max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last page written; a stale run is taken over")
    pages = models.PositiveIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    bytes = models.PositiveBigIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True, help_text="@odata.count, when Graph gave one")
    added = models.PositiveIntegerField(null=True, blank=True)
    changed = models.PositiveIntegerField(null=True, blank=True)
    removed = models.PositiveIntegerField(null=True, blank=True)
    message = models.CharField(max_length=300, blank=True)
    error = models.JSONField(default=dict, blank=True, help_text="the diagnosis of a failed run")
    delta_link = models.TextField(blank=True)

    objects = SyncRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["connection", "-created_at"])]
        constraints = [models.UniqueConstraint(
            fields=["connection"], condition=models.Q(status__in=["queued", "running"]),
            name="one_active_sync_per_connection")]

    def __str__(self) -> str:
        return f"sync of {self.entity or self.connection_id} {self.status} ({self.pk})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def percent(self) -> int | None:
        """Progress 0–100 when Graph told the total; None (an indeterminate bar) otherwise."""
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.total:
            return None
        return min(99, self.rows * 100 // self.total)

    @property
    def duration(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def compared(self) -> bool:
        return self.added is not None


class SyncRecord(models.Model):
    """One item of a run, as Graph returned it (annotations dropped). ``digest`` makes comparing
    two runs a matter of comparing short strings in SQL."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="records")
    key = models.CharField(max_length=400)
    data = models.JSONField()
    digest = models.CharField(max_length=32)

    objects = SyncRecordQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="one_record_per_key_per_run")]

    def __str__(self) -> str:
        return f"{self.key} of run {self.run_id}"
