"""The job kinds: one registry, filled where each Celery task is defined.

A task module declares the kinds that run a task with ``@job_kind(...)`` right above its
``@shared_task``: what the button says, which fragment shows it, and — for a kind that keeps work
of its own beside its jobs, as a sync keeps its run — how that work is reaped and ended with a job.
Queueing, the reaper, health, views and templates read this registry; nothing else names a task.

The registry is filled when the task modules are imported: the app's ``ready`` imports them, so
the web process knows every kind a worker does.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured

from connections.models import Connection, Job

# The fragment that shows a job and polls it while it runs.
JOB_FRAGMENT = "connections/token/_job.html"


class Ending(enum.Enum):
    """Why a job ended without its task's say."""

    WORKER_GONE = "worker_gone"  # its worker stopped writing its heartbeat
    WORKER_LOST = "worker_lost"  # the pool process running it was killed
    CRASHED = "crashed"  # the task raised


@dataclass(frozen=True)
class Beside:
    """Work a kind keeps beside its jobs, with a heartbeat of its own (a sync's run). The reaper
    and /healthz ask it, so the job layer needs to know nothing of what that work is."""

    abandon: Callable[[str, Ending], bool]  # end the work of a job that ended (True: the job was ended with it)
    reap: Callable[[Connection | None], int]  # end the work whose heartbeat is stale; how many
    stuck: Callable[[datetime], int]  # how many are stuck (queued before the given moment, or silent)


@dataclass(frozen=True)
class JobKind:
    kind: Job.Kind
    runs: Any  # the Celery task (its name is read when a job is sent)
    args: tuple = ()  # the task's arguments after the job id and the connection id
    started: str = ""  # what the page says once the button queued it ({entity}: the connection's)
    fragment: str = JOB_FRAGMENT  # the live fragment a button answers with
    token: bool = False  # fetches a token: the automatic refresh waits while one is active
    panel: bool = False  # shown in the token panel, the newest one (finished or not)
    reads_item: bool = False  # its result is an item read from Graph, not a token
    beside: Beside | None = None

    @property
    def task(self) -> str:
        """The Celery task's name: what a job records and is sent by."""
        return str(self.runs.name)

    @property
    def label(self) -> str:
        return self.kind.label

    def started_message(self, entity: str = "") -> str:
        return self.started.format(entity=entity)

    def task_args(self, connection_id: object, *more: object) -> tuple:
        """The task's arguments for a job on a connection (``enqueue`` puts the job id first)."""
        return (str(connection_id), *self.args, *more)


KINDS: dict[str, JobKind] = {}

Task = TypeVar("Task")


def job_kind(kind: Job.Kind, **entry: Any) -> Callable[[Task], Task]:
    """Declare that jobs of ``kind`` run the task below (``entry``: the JobKind's other fields)."""

    def register(task: Task) -> Task:
        known = KINDS.get(kind)
        if known is not None and known.runs is not task:
            raise ImproperlyConfigured(f"The job kind {kind!r} is declared twice.")
        KINDS[kind] = JobKind(kind, task, **entry)
        return task

    return register


def get(kind: str) -> JobKind:
    """The registry entry of ``kind`` (KeyError for a kind nobody declared)."""
    return KINDS[kind]


def kinds_where(**flags: bool) -> tuple[Job.Kind, ...]:
    """The kinds whose entries have every one of ``flags``, e.g. ``kinds_where(token=True)``."""
    return tuple(spec.kind for spec in KINDS.values() if all(getattr(spec, f) == v for f, v in flags.items()))


def label(kind: str) -> str:
    """What pages call a job of ``kind`` (a kind no longer defined: its value in words)."""
    spec = KINDS.get(kind)
    return spec.label if spec is not None else kind.replace("_", " ").capitalize()
