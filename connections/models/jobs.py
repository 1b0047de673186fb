"""The state of background work, kept in our own tables so no Celery result backend is needed."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from .teams import TeamScopedQuerySet


class Lifecycle:
    """What a Job and a SyncRun share: whether they are finished, and how long they ran.

    ``FINISHED`` lists the end states of ``state_field``; ``started_at``/``finished_at`` are the
    model's own fields.
    """

    FINISHED: tuple[str, ...] = ()
    state_field = "state"
    started_at: Any
    finished_at: Any

    @property
    def is_finished(self) -> bool:
        return getattr(self, self.state_field) in self.FINISHED

    @property
    def duration(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class JobQuerySet(TeamScopedQuerySet):
    team_field = "connection__team"


class Job(Lifecycle, models.Model):
    """One piece of background work, as people see it on status pages.

    Transitions: QUEUED → RUNNING → SUCCEEDED | FAILED. The Celery task id is the job id,
    so signal handlers (connections/jobs/signals.py) move the state without the task's help;
    ``progress`` (0–100) and ``message`` are written by the task itself as it goes.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        """What the job does. The label is what pages call it; what each kind runs, says and shows
        is in its registry entry, declared beside its task with ``@job_kind``."""

        TOKEN_FETCH = "token_fetch", "Get access token"
        TOKEN_REFETCH = "token_refetch", "Re-fetch token"
        TOKEN_REFRESH = "token_refresh", "Automatic refresh"
        TEST = "test", "Test connection"
        SYNC = "sync", "Sync"
        PING = "ping", "Ping"

    FINISHED = (State.SUCCEEDED, State.FAILED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=40, choices=Kind.choices)
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    connection = models.ForeignKey(
        "connections.Connection", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    # What to send to the broker, kept so a job the broker never took can be sent again.
    task_name = models.CharField(max_length=200, blank=True)
    task_args = models.JSONField(default=list, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="when the broker took the task; empty: not yet")
    send_failures = models.PositiveIntegerField(default=0)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "sent_at"], name="job_unsent_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.state} ({self.id})"

    @property
    def waiting_for_broker(self) -> bool:
        """Recorded, but the broker could not be reached to take it: it is sent again when it is back."""
        return self.state == self.State.QUEUED and self.sent_at is None and self.send_failures > 0


class WorkerHeartbeat(models.Model):
    """Last sign of life of each worker process; /healthz reads it."""

    hostname = models.CharField(max_length=200, primary_key=True)
    pid = models.PositiveIntegerField(default=0)
    last_seen = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.hostname} @ {self.last_seen:%H:%M:%S}"
