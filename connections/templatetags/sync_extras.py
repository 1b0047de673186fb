"""Template helpers for the syncs panel and pages."""

from __future__ import annotations

from typing import Any

from django import template

from connections.library import status
from connections.syncs import charts
from connections.syncs import engine as sync

register = template.Library()

RUNS_IN_PANEL = 5
RUNS_IN_CHART = status.RUNS_ON_PAGE


def _newest_runs(connection: Any) -> list[Any]:
    """The runs the panel and its chart show, newest first: one query per page, shared by both (and
    by the detail page's last sync)."""
    return status.newest_runs(connection)


@register.simple_tag
def recent_sync_runs(connection: Any) -> list[Any]:
    """The connection's newest runs, newest first."""
    return _newest_runs(connection)[:RUNS_IN_PANEL]


@register.filter
def signed_changes(run: Any) -> str:
    """ "+1 ~2 −3" for a compared run, "" for a first run."""
    if not run.compared:
        return ""
    return f"+{run.added} ~{run.changed} \u2212{run.removed}"


@register.filter
def as_text(value: Any) -> str:
    return sync.as_text(value)


@register.simple_tag
def sync_history_chart(connection: Any) -> str:
    """The last runs of the connection as a picture with its text alternative."""
    return charts.history_svg(_newest_runs(connection), chart_id=f"sync-history-{connection.pk}", slots=RUNS_IN_CHART)


@register.filter
def changes_sparkline(run: Any) -> str:
    return charts.changes_sparkline(run)
