"""Template helpers for the syncs panel and pages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template

from connections.library import charts, status
from connections.syncs import results

register = template.Library()


@register.simple_tag
def recent_sync_runs(connection: Any) -> list[Any]:
    """The runs the panel shows in full, newest first: read once per page (the detail page's last
    sync is the first of them)."""
    return status.newest_runs(connection)


@register.filter
def signed_changes(run: Any) -> str:
    """ "+1 ~2 −3" for a compared run, "" for a first run."""
    return results.signed_changes(run)


@register.filter
def as_text(value: Any) -> str:
    return results.as_text(value)


@register.inclusion_tag("connections/syncs/_history_chart.html")
def sync_history_chart(connection: Any) -> dict[str, Any]:
    """The last runs of the connection as a picture with its text alternative."""
    runs = status.run_history(connection)
    chart_id = f"sync-history-{connection.pk}"
    return {"chart": charts.history_chart(runs, chart_id=chart_id, slots=status.RUNS_IN_HISTORY)}


@register.inclusion_tag("connections/syncs/_sparkline.html")
def changes_sparkline(run: Any) -> dict[str, Any]:
    """One run's changes as a small stacked bar (nothing for a run that was not compared)."""
    return {"spark": charts.sparkline(run)}


@register.simple_tag
def runs_version(runs: Iterable[Any]) -> str:
    """The fragment-cache key of a runs table or chart: changes with anything shown of these runs."""
    return status.runs_version(list(runs))
