"""Background work: the job kinds, recording jobs and sending them to the worker, heartbeats and
the reaper, health. It knows nothing of what a job does: the kinds are declared where their
tasks are, and work a kind keeps beside its jobs (a sync's run) is reached through its entry."""

from connections.jobs.kinds import job_kind
from connections.jobs.queue import (
    HeartbeatThread,
    enqueue,
    enqueue_kind,
    mark_failed,
    mark_started,
    mark_succeeded,
    report_progress,
    resend_waiting,
    send,
    start,
    worker_name,
)

__all__ = [
    "HeartbeatThread",
    "enqueue",
    "enqueue_kind",
    "job_kind",
    "mark_failed",
    "mark_started",
    "mark_succeeded",
    "report_progress",
    "resend_waiting",
    "send",
    "start",
    "worker_name",
]
