"""Template helpers for the syncs panel and pages."""
from __future__ import annotations

from typing import Any

from django import template

from .. import sync

register = template.Library()

RUNS_IN_PANEL = 5


@register.simple_tag
def recent_sync_runs(connection: Any) -> list[Any]:
    """The connection's newest runs, newest first (one query)."""
    return list(connection.sync_runs.select_related("started_by")[:RUNS_IN_PANEL])


@register.filter
def signed_changes(run: Any) -> str:
    """"+1 ~2 −3" for a compared run, "" for a first run."""
    if not run.compared:
        return ""
    return f"+{run.added} ~{run.changed} \u2212{run.removed}"


@register.filter
def as_text(value: Any) -> str:
    return sync.as_text(value)
