"""Celery signal handlers: they move Job rows through their states and run the heartbeat."""

from __future__ import annotations

import threading
from typing import Any

from billiard.exceptions import WorkerLostError
from celery.signals import task_failure, task_prerun, task_success, worker_ready, worker_shutdown

from connections.jobs import reaper
from connections.jobs.kinds import Ending
from connections.jobs.queue import HeartbeatThread, mark_started, mark_succeeded, worker_name
from connections.jobs.reaper import end_job

_heartbeat: HeartbeatThread | None = None


@task_prerun.connect
def _job_started(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    """The job records its worker's node name: the name its heartbeat row has (the reaper's link)."""
    if task_id:
        hostname = getattr(getattr(task, "request", None), "hostname", None)
        mark_started(task_id, hostname or worker_name())


@task_success.connect
def _job_succeeded(sender: Any = None, result: Any = None, **kwargs: Any) -> None:
    if sender is not None and sender.request.id:
        mark_succeeded(sender.request.id, result)


@task_failure.connect
def _job_failed(task_id: str | None = None, exception: BaseException | None = None, **kwargs: Any) -> None:
    """A task that raised: the page gets a sentence, not the exception's text (that may hold SQL,
    paths or hosts, and Celery already logs it with its traceback)."""
    if task_id:
        if isinstance(exception, WorkerLostError):  # the pool child died: the work beside the job ends too
            end_job(task_id, Ending.WORKER_LOST)
            return
        end_job(task_id, Ending.CRASHED, type(exception).__name__)


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    global _heartbeat
    _heartbeat = HeartbeatThread(getattr(sender, "hostname", None) or worker_name())
    _heartbeat.start()
    # Work recorded while no broker was reachable starts now, without waiting for beat.
    threading.Thread(target=reaper.start_up_sweep, name="graphconn-start-up-sweep", daemon=True).start()


@worker_shutdown.connect
def _stop_heartbeat(**kwargs: Any) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
