"""Queueing background work and keeping its Job row and the worker heartbeat current."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, models, transaction
from django.db.models import F
from django.utils import timezone

from connections.jobs import kinds
from connections.jobs.kinds import JobKind
from connections.models import Connection, Job, WorkerHeartbeat
from graphconn.redaction import redact

log = logging.getLogger(__name__)


WAITING_MESSAGE = "Queued — the task queue is unreachable; it will start when it is back."
RESEND_AFTER = timedelta(seconds=60)  # a job still unsent this long after its commit is sent again
JOINED_WITHIN = timedelta(minutes=5)  # a button pressed again joins an active job this recent


def enqueue(task: str, kind: str, *, user: Any = None, args: tuple = (), **job_fields: Any) -> Job:
    """Record a QUEUED job and send the Celery task named ``task`` once the surrounding
    transaction commits; the job keeps the name, and ``send`` sends by it.

    The job id is the Celery task id, so the signal handlers can follow the task without a
    result backend. The task receives the job id as its first argument. Sending never raises into
    the caller: when the broker is away the job stays recorded, *waiting for the broker*, and
    ``resend_waiting`` (beat, and every worker on start-up) sends it when the broker is back.
    """
    job = Job.objects.create(
        kind=kind,
        requested_by=user if getattr(user, "pk", None) else None,
        task_name=task,
        task_args=list(args),
        **job_fields,
    )
    transaction.on_commit(lambda: send(job))
    return job


def enqueue_kind(spec: JobKind, connection: Connection, *more: object, user: Any = None) -> Job:
    """A job of a registered kind on ``connection``: its task, with the connection's arguments."""
    return enqueue(spec.task, spec.kind, user=user, connection=connection, args=spec.task_args(connection.pk, *more))


def start(connection: Connection, kind: str, user: Any) -> Job:
    """Queue a job of ``kind`` for ``connection`` from a button — or return the same job already
    queued or running, so a double click or two people pressing at once do not queue it twice."""
    spec = kinds.get(kind)
    running = Job.objects.filter(
        connection=connection,
        kind=spec.kind,
        created_at__gte=timezone.now() - JOINED_WITHIN,
        state__in=[Job.State.QUEUED, Job.State.RUNNING],
    ).first()
    if running is not None:
        return running
    return enqueue_kind(spec, connection, user=user)


def send(job: Job) -> bool:
    """Hand ``job``'s task to the broker once (short timeouts, no publish retries: a request waits
    at most about BROKER_TIMEOUT_SECONDS); on failure the job says it waits for the broker."""
    from graphconn.celery import app

    try:
        app.send_task(job.task_name, args=(str(job.pk), *job.task_args), task_id=str(job.pk), retry=False)
    except Exception as error:  # any broker failure: the job is recorded and will be sent again
        log.warning(
            "job %s could not be sent to the broker (%s); it waits for the broker", job.pk, type(error).__name__
        )
        try:
            Job.objects.filter(pk=job.pk, sent_at__isnull=True).update(
                send_failures=F("send_failures") + 1, message=WAITING_MESSAGE
            )
        except DatabaseError:
            log.warning("job %s: its waiting state could not be written", job.pk, exc_info=True)
        job.send_failures, job.message = job.send_failures + 1, WAITING_MESSAGE
        return False
    now = timezone.now()
    # The worker may have started it already: only a still-waiting message is cleared.
    Job.objects.filter(pk=job.pk).update(sent_at=now)
    Job.objects.filter(pk=job.pk, message=WAITING_MESSAGE).update(message="")
    job.sent_at = now
    if job.message == WAITING_MESSAGE:
        job.message = ""
    return True


def resend_waiting(limit: int = 500) -> dict[str, int]:
    """Send every queued job the broker never took (oldest first); stop at the first failure,
    since the broker is still away then."""
    waiting = (
        Job.objects.filter(state=Job.State.QUEUED, sent_at__isnull=True)
        .exclude(task_name="")
        .filter(models.Q(send_failures__gt=0) | models.Q(created_at__lt=timezone.now() - RESEND_AFTER))
    )
    sent = 0
    for job in waiting.order_by("created_at")[:limit]:
        if not send(job):
            break
        sent += 1
    return {"sent": sent}


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


def mark_failed(job_id: str | uuid.UUID, error: str, result: dict | None = None) -> None:
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
