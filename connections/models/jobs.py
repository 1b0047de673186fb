"""The state of background work, kept in our own tables so no Celery result backend is needed."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Job(models.Model):
    """One piece of background work, as people see it on status pages.

    Transitions: QUEUED → RUNNING → SUCCEEDED | FAILED. The Celery task id is the job id,
    so signal handlers (connections/signals.py) move the state without the task's help;
    ``progress`` (0–100) and ``message`` are written by the task itself as it goes.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=40)
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
    connection = models.ForeignKey("connections.Connection", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    # What to send to the broker, kept so a job the broker never took can be sent again.
    task_name = models.CharField(max_length=200, blank=True)
    task_args = models.JSONField(default=list, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="when the broker took the task; empty: not yet")
    send_failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "sent_at"], name="job_unsent_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.state} ({self.id})"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.SUCCEEDED, self.State.FAILED)

    @property
    def waiting_for_broker(self) -> bool:
        """Recorded, but the broker could not be reached to take it: it is sent again when it is back."""
        return self.state == self.State.QUEUED and self.sent_at is None and self.send_failures > 0

    @property
    def duration(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class WorkerHeartbeat(models.Model):
    """Last sign of life of each worker process; /healthz reads it."""

    hostname = models.CharField(max_length=200, primary_key=True)
    pid = models.PositiveIntegerField(default=0)
    last_seen = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.hostname} @ {self.last_seen:%H:%M:%S}"
