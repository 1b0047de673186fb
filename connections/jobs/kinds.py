"""The job kinds: for each ``Job.Kind``, the Celery task it runs, what its button says and which
fragment shows it. Actions, tasks, views and templates (through ``token_extras``) read this one
table; nothing else names a kind or a task.

A kind's task is named, not imported: the task modules sit above this package, and ``enqueue``
records the name on the job and sends by it (so a job recorded while the broker was away is sent
again by the same name).
"""

from __future__ import annotations

from dataclasses import dataclass

from connections.models import Job, TokenFetch

# Celery task names; connections/tasks.py registers each task under its name from here.
FETCH_TOKEN_TASK = "connections.fetch_token"
TEST_CONNECTION_TASK = "connections.test_connection"
SYNC_ENTITY_TASK = "connections.sync_entity"
PING_TASK = "connections.ping"

# The fragments that show a job: a token or test job polls itself; a sync shows its run's progress.
JOB_FRAGMENT = "connections/token/_job.html"
SYNC_FRAGMENT = "connections/syncs/_progress.html"


@dataclass(frozen=True)
class JobKind:
    kind: Job.Kind
    task: str  # the Celery task name
    args: tuple = ()  # the task's arguments after the job id and the connection id
    started: str = ""  # what the page says once the button queued it ({entity}: the connection's)
    fragment: str = JOB_FRAGMENT  # the live fragment a button answers with
    token: bool = False  # fetches a token: the automatic refresh waits while one is active
    panel: bool = False  # shown in the token panel, the newest one (finished or not)
    reads_item: bool = False  # its result is an item read from Graph, not a token
    sync_run: bool = False  # started through the sync engine, with a run beside the job

    @property
    def label(self) -> str:
        return self.kind.label

    def started_message(self, entity: str = "") -> str:
        return self.started.format(entity=entity)

    def task_args(self, connection_id: object, *more: object) -> tuple:
        """The task's arguments for a job on a connection (``enqueue`` puts the job id first)."""
        return (str(connection_id), *self.args, *more)


KINDS: dict[str, JobKind] = {
    spec.kind: spec
    for spec in (
        JobKind(
            Job.Kind.TOKEN_FETCH,
            FETCH_TOKEN_TASK,
            (False, TokenFetch.Reason.FETCH),
            started="Getting an access token…",
            token=True,
            panel=True,
        ),
        JobKind(
            Job.Kind.TOKEN_REFETCH,
            FETCH_TOKEN_TASK,
            (True, TokenFetch.Reason.REFETCH),
            started="Re-fetching the token (ignoring the saved one)…",
            token=True,
            panel=True,
        ),
        JobKind(Job.Kind.TOKEN_REFRESH, FETCH_TOKEN_TASK, (False, TokenFetch.Reason.REFRESH), token=True, panel=True),
        JobKind(
            Job.Kind.TEST,
            TEST_CONNECTION_TASK,
            started="Testing the connection: token, then one item…",
            panel=True,
            reads_item=True,
        ),
        JobKind(
            Job.Kind.SYNC, SYNC_ENTITY_TASK, started="Sync of {entity} started.", fragment=SYNC_FRAGMENT, sync_run=True
        ),
        JobKind(Job.Kind.PING, PING_TASK),
    )
}


def get(kind: str) -> JobKind:
    """The registry entry of ``kind`` (KeyError for a kind nobody defined)."""
    return KINDS[kind]


def kinds_where(**flags: bool) -> tuple[Job.Kind, ...]:
    """The kinds whose entries have every one of ``flags``, e.g. ``kinds_where(token=True)``."""
    return tuple(spec.kind for spec in KINDS.values() if all(getattr(spec, f) == v for f, v in flags.items()))


def label(kind: str) -> str:
    """What pages call a job of ``kind`` (a kind no longer defined: its value in words)."""
    spec = KINDS.get(kind)
    return spec.label if spec is not None else kind.replace("_", " ").capitalize()
