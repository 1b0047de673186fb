"""Starting background work from the pages: one job per kind per connection at a time."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from connections.syncs import engine as sync
from connections import tasks
from connections.jobs.queue import enqueue
from connections.models import Connection, Job, TokenFetch

# kind → (task, extra args after the connection id)
KINDS: dict[str, tuple[Any, tuple]] = {
    "token_fetch": (tasks.fetch_token, (False, TokenFetch.Reason.FETCH)),
    "token_refetch": (tasks.fetch_token, (True, TokenFetch.Reason.REFETCH)),
    "test": (tasks.test_connection, ()),
}
LABELS = {
    "token_fetch": "Get access token", "token_refetch": "Re-fetch token", "token_refresh": "Automatic refresh",
    "test": "Test connection", "sync": "Sync", "ping": "Ping",
}


def start(connection: Connection, kind: str, user: Any) -> Job:
    """Queue ``kind`` for ``connection`` — or return the same job already queued or running,
    so a double click or two people pressing at once do not queue the work twice."""
    if kind == "sync":
        return sync.start(connection, user, tasks.sync_entity)
    task, extra = KINDS[kind]
    recent = timezone.now() - timedelta(minutes=5)
    running = Job.objects.filter(connection=connection, kind=kind, created_at__gte=recent,
                                 state__in=[Job.State.QUEUED, Job.State.RUNNING]).first()
    if running is not None:
        return running
    return enqueue(task, kind, user=user, connection=connection, args=(str(connection.pk), *extra))
