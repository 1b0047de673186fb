"""Starting background work from the pages: one job per kind per connection at a time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from connections.jobs import kinds
from connections.jobs.queue import enqueue_kind
from connections.models import Connection, Job
from connections.syncs import engine as sync


def start(connection: Connection, kind: str, user: Any) -> Job:
    """Queue ``kind`` for ``connection`` — or return the same job already queued or running,
    so a double click or two people pressing at once do not queue the work twice."""
    spec = kinds.get(kind)
    if spec.sync_run:  # the run beside the job is what is single: the engine creates both
        return sync.start(connection, user)
    recent = timezone.now() - timedelta(minutes=5)
    running = Job.objects.filter(
        connection=connection, kind=spec.kind, created_at__gte=recent, state__in=[Job.State.QUEUED, Job.State.RUNNING]
    ).first()
    if running is not None:
        return running
    return enqueue_kind(spec, connection, user=user)
