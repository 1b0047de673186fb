"""Noticing dead workers: the system, not a person, ends the runs and jobs they left behind.

A worker writes its heartbeat every WORKER_HEARTBEAT_SECONDS, and a running sync writes its own
after every page (and while it waits before asking a page again). Beat runs ``reap`` every
REAPER_SECONDS, and each worker once on start-up:

- a RUNNING sync whose heartbeat is older than SYNC_STALE_AFTER_SECONDS is interrupted
  (``store.interrupt_run``: marked failed in words, its records removed, its job ended);
- a RUNNING job whose worker's heartbeat is older than WORKER_STALE_AFTER_SECONDS (or gone) is
  failed with a sentence saying so, and its sync run interrupted with it.

Both bounds are far shorter than the broker's visibility timeout, after which Redis would hand an
unacknowledged task to another worker; that redelivered task then finds its run finished and stops.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from connections.jobs import queue as background
from connections.models import Connection, Job, SyncRun, WorkerHeartbeat
from connections.syncs import store

log = logging.getLogger(__name__)

RUN_STALE = (
    "The worker running this sync stopped reporting progress (it was killed, lost its connection "
    "or was restarted). Nothing it read is kept."
)
WORKER_GONE = (
    "The worker running this job stopped (it was killed or restarted) before finishing. Press the button again."
)
RUN_WORKER_GONE = (
    "The worker running this sync stopped (it was killed or restarted) before finishing. Nothing it read is kept."
)
WORKER_LOST = (
    "The worker process running this sync was killed (out of memory, or stopped by an "
    "operator). Nothing it read is kept."
)


def stale_before(now: datetime | None = None) -> datetime:
    """A running sync whose heartbeat is older than this is stuck."""
    return (now or timezone.now()) - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS)


def reap(connection: Connection | None = None) -> dict[str, int]:
    """Interrupt what dead workers left running (of one connection, or everywhere)."""
    now = timezone.now()
    runs = SyncRun.objects.filter(status=SyncRun.Status.RUNNING, heartbeat_at__lt=stale_before(now))
    if connection is not None:
        runs = runs.filter(connection=connection)
    interrupted = 0
    for run in runs.select_related("connection"):
        store.interrupt_run(run, RUN_STALE)
        interrupted += 1

    alive_since = now - timedelta(seconds=settings.WORKER_STALE_AFTER_SECONDS)
    alive = WorkerHeartbeat.objects.filter(last_seen__gte=alive_since).values("hostname")
    orphans = Job.objects.filter(state=Job.State.RUNNING, started_at__lt=alive_since).exclude(worker__in=alive)
    if connection is not None:
        orphans = orphans.filter(connection=connection)
    ended = 0
    for job in orphans:
        end_job(job.pk, WORKER_GONE, RUN_WORKER_GONE)
        ended += 1
    if connection is None:  # rows of workers dead for a day are history, not health
        WorkerHeartbeat.objects.filter(last_seen__lt=now - timedelta(days=1)).delete()
    if interrupted or ended:
        log.warning("reaper: %d sync run(s) interrupted, %d job(s) of dead workers ended", interrupted, ended)
    return {"runs": interrupted, "jobs": ended}


def end_job(job_id: uuid.UUID | str, message: str, run_message: str | None = None) -> None:
    """Fail a job that will never finish by itself: a job with an active sync run is failed by
    interrupting the run (with ``run_message``, the run and its job in one call); any other job
    with ``message``."""
    if not interrupt_runs_of(job_id, run_message or message):
        background.mark_failed(str(job_id), message)


def interrupt_runs_of(job_id: uuid.UUID | str, message: str) -> int:
    """Interrupt the active sync run of ``job_id`` (and so fail the job); how many were."""
    runs = SyncRun.objects.filter(job_id=job_id, status__in=SyncRun.ACTIVE).select_related("connection")
    return sum(store.interrupt_run(run, message) for run in runs)


def start_up_sweep() -> None:
    """A starting worker ends what dead workers left running and sends what waited for the broker
    (in its own thread: start-up is not held)."""
    try:
        close_old_connections()
        reap()
        background.resend_waiting()
    except Exception:
        log.warning("the start-up sweep failed; beat will try again", exc_info=True)
    finally:
        close_old_connections()
