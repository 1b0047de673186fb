"""Template helpers for the syncs panel and pages."""
from __future__ import annotations

from typing import Any

from django import template

from .. import charts, sync

register = template.Library()

RUNS_IN_PANEL = 5
RUNS_IN_CHART = 20


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


@register.simple_tag
def sync_history_chart(connection: Any) -> str:
    """The last runs of the connection as a picture with its text alternative (one query)."""
    runs = connection.sync_runs.only("status", "rows", "added", "changed", "removed", "created_at",
                                     "started_at", "finished_at")[:RUNS_IN_CHART]
    return charts.history_svg(runs, chart_id=f"sync-history-{connection.pk}", slots=RUNS_IN_CHART)


@register.filter
def changes_sparkline(run: Any) -> str:
    return charts.changes_sparkline(run)
