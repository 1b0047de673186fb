"""Noticing dead workers: the system, not a person, ends the jobs (and the work beside them) they left.

A worker writes its heartbeat every WORKER_HEARTBEAT_SECONDS; work a kind keeps beside its jobs
(a sync's run) writes its own. Beat runs ``reap`` every REAPER_SECONDS, and each worker once on
start-up:

- each kind with work beside its jobs ends the work whose own heartbeat is stale (``Beside.reap``);
- a RUNNING job whose worker's heartbeat is older than WORKER_STALE_AFTER_SECONDS (or gone) is
  failed with a sentence saying so, and the work beside it ended with it (``Beside.abandon``).

Both bounds are far shorter than the broker's visibility timeout, after which Redis would hand an
unacknowledged task to another worker; that redelivered task then finds its work finished and stops.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from connections.jobs import kinds, queue
from connections.jobs.kinds import Ending
from connections.models import Connection, Job, WorkerHeartbeat

log = logging.getLogger(__name__)

JOB_ENDINGS = {
    Ending.WORKER_GONE: (
        "The worker running this job stopped (it was killed or restarted) before finishing. Press the button again."
    ),
    Ending.WORKER_LOST: (
        "The worker process running this job was killed (out of memory, or stopped by an operator). "
        "Press the button again."
    ),
    Ending.CRASHED: "The job stopped on an unexpected error ({error}); the worker's log has the details.",
}


def reap(connection: Connection | None = None) -> dict[str, int]:
    """End what dead workers left running (of one connection, or everywhere)."""
    now = timezone.now()
    interrupted = sum(spec.beside.reap(connection) for spec in kinds.KINDS.values() if spec.beside is not None)

    alive_since = now - timedelta(seconds=settings.WORKER_STALE_AFTER_SECONDS)
    alive = WorkerHeartbeat.objects.filter(last_seen__gte=alive_since).values("hostname")
    orphans = Job.objects.filter(state=Job.State.RUNNING, started_at__lt=alive_since).exclude(worker__in=alive)
    if connection is not None:
        orphans = orphans.filter(connection=connection)
    ended = 0
    for job in orphans:
        end_job(job.pk, Ending.WORKER_GONE)
        ended += 1
    if connection is None:  # rows of workers dead for a day are history, not health
        WorkerHeartbeat.objects.filter(last_seen__lt=now - timedelta(days=1)).delete()
    if interrupted or ended:
        log.warning("reaper: %d run(s) interrupted, %d job(s) of dead workers ended", interrupted, ended)
    return {"runs": interrupted, "jobs": ended}


def end_job(job_id: uuid.UUID | str, ending: Ending, error: str = "") -> None:
    """Fail a job that will never finish by itself, for ``ending`` (``error``: the exception's
    class name when it crashed). The work beside it, if its kind keeps any, ends with it."""
    kind = Job.objects.filter(pk=job_id).values_list("kind", flat=True).first()
    spec = kinds.KINDS.get(kind) if kind is not None else None
    if spec is not None and spec.beside is not None and spec.beside.abandon(str(job_id), ending):
        return
    queue.mark_failed(str(job_id), JOB_ENDINGS[ending].format(error=error or "an error"))


def start_up_sweep() -> None:
    """A starting worker ends what dead workers left running and sends what waited for the broker
    (in its own thread: start-up is not held)."""
    try:
        close_old_connections()
        reap()
        queue.resend_waiting()
    except Exception:
        log.warning("the start-up sweep failed; beat will try again", exc_info=True)
    finally:
        close_old_connections()
