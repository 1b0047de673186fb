"""Queueing background work and keeping its Job row and the worker heartbeat current."""
from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from celery import Task
from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from graphconn.redaction import redact

from .models import Job, WorkerHeartbeat

log = logging.getLogger(__name__)


def enqueue(task: Task, kind: str, *, user: Any = None, args: tuple = (), **job_fields: Any) -> Job:
    """Create a QUEUED job and send ``task`` once the surrounding transaction commits.

    The job id is the Celery task id, so the signal handlers can follow the task without a
    result backend. The task receives the job id as its first argument.
    """
    job = Job.objects.create(kind=kind, requested_by=user if getattr(user, "pk", None) else None, **job_fields)
    transaction.on_commit(lambda: task.apply_async(args=(str(job.pk), *args), task_id=str(job.pk)))
    return job


def report_progress(job_id: str, progress: int, message: str = "") -> None:
    """Called by tasks as they go; the status pages poll it."""
    Job.objects.filter(pk=job_id).update(progress=max(0, min(progress, 100)), message=message[:300])


def mark_started(job_id: str, worker: str) -> None:
    Job.objects.filter(pk=job_id).exclude(state__in=[Job.State.SUCCEEDED, Job.State.FAILED]).update(
        state=Job.State.RUNNING, started_at=timezone.now(), worker=worker[:200]
    )


def mark_succeeded(job_id: str, result: Any = None) -> None:
    """RUNNING → SUCCEEDED; a job the task already marked FAILED stays failed."""
    fields: dict[str, Any] = {"state": Job.State.SUCCEEDED, "finished_at": timezone.now(), "progress": 100}
    if isinstance(result, dict):
        fields["result"] = result
    Job.objects.filter(pk=job_id, state=Job.State.RUNNING).update(**fields)


def mark_failed(job_id: str, error: str, result: dict | None = None) -> None:
    fields: dict[str, Any] = {"state": Job.State.FAILED, "finished_at": timezone.now(), "error": redact(error)[:4000]}
    if result is not None:
        fields["result"] = result
    Job.objects.filter(pk=job_id).exclude(state=Job.State.SUCCEEDED).update(**fields)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class HeartbeatThread(threading.Thread):
    """Writes this worker's heartbeat every WORKER_HEARTBEAT_SECONDS until stopped."""

    def __init__(self, hostname: str) -> None:
        super().__init__(name="graphconn-heartbeat", daemon=True)
        self.hostname = hostname
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                close_old_connections()
                WorkerHeartbeat.objects.update_or_create(
                    hostname=self.hostname, defaults={"pid": os.getpid(), "last_seen": timezone.now()}
                )
            except Exception:  # the database may be briefly away; /healthz will say so
                log.warning("worker heartbeat could not be written", exc_info=True)
            self.stopped.wait(settings.WORKER_HEARTBEAT_SECONDS)

    def stop(self) -> None:
        self.stopped.set()
        try:
            close_old_connections()
            WorkerHeartbeat.objects.filter(hostname=self.hostname).delete()
        except Exception:
            log.warning("worker heartbeat could not be removed", exc_info=True)
