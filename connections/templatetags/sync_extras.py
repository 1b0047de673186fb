"""Template helpers for the syncs panel and pages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.template.defaultfilters import filesizeformat
from django.utils.safestring import SafeString, mark_safe

from connections.library import status
from connections.syncs import charts, results

from .markup import UrlPattern
from .markup import escape as _e
from .time_extras import when

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


@register.simple_tag
def sync_history_chart(connection: Any) -> str:
    """The last runs of the connection as a picture with its text alternative."""
    return charts.history_svg(
        status.run_history(connection), chart_id=f"sync-history-{connection.pk}", slots=status.RUNS_IN_HISTORY
    )


@register.filter
def changes_sparkline(run: Any) -> str:
    return charts.changes_sparkline(run)


_BADGES = {"succeeded": "ok", "failed": "bad", "cancelled": "warn", "interrupted": "warn"}


@register.simple_tag
def sync_run_rows(runs: Iterable[Any], connection: Any) -> SafeString:
    """Every ``<tr>`` of a runs table, written in Python: the same rows as template markup (four URLs,
    a dozen filters each) cost more than the query that read the runs."""
    urls = {name: UrlPattern(f"connections:{name}", 2) for name in ("sync_detail", "sync_changes", "sync_export")}
    return mark_safe("\n    ".join(_run_row(run, connection, urls) for run in runs))


def _run_row(run: Any, connection: Any, urls: dict[str, UrlPattern]) -> str:
    status_ = run.status
    said = ""
    if status_ == "failed":
        error = run.error if isinstance(run.error, dict) else {}
        said = f"<br><small>{_e(error.get('title', ''))}</small>"
    elif status_ in ("cancelled", "interrupted"):
        said = f"<br><small>{_e(run.message)}</small>"
    if run.trigger == "schedule":
        by = '<br><small class="muted" data-trigger="schedule">by schedule</small>'
    elif run.started_by is not None:
        by = f'<br><small class="muted">{_e(run.started_by)}</small>'
    else:
        by = ""
    links = ""
    if status_ == "succeeded":
        links = f'<a href="{urls["sync_detail"].fill(connection.pk, run.pk)}">Browse</a>'
        if run.compared:
            links += f' · <a href="{urls["sync_changes"].fill(connection.pk, run.pk)}">Compare</a>'
        export = urls["sync_export"].fill(connection.pk, run.pk)
        links += f' · <a href="{export}?format=csv">CSV</a> · <a href="{export}?format=jsonl">JSONL</a>'
    elif status_ == "failed":
        links = f'<a href="{urls["sync_detail"].fill(connection.pk, run.pk)}">Details</a>'
    finished = when(run.finished_at) if run.finished_at else "—"
    return (
        f'<tr data-run="{_e(run.pk)}">\n'
        f'      <td><span class="badge {_BADGES.get(status_, "muted")}">{_e(run.get_status_display())}</span>{said}</td>\n'
        f"      <td>{when(run.started_at or run.created_at)}{by}</td>\n"
        f"      <td>{finished}</td>\n"
        f"      <td>{_e(run.mode)}</td>\n"
        f"      <td>{_e(run.pages)}</td>\n"
        f"      <td>{_e(run.rows)}</td>\n"
        f"      <td>{_e(filesizeformat(run.bytes))}</td>\n"
        f"      <td>{_e(signed_changes(run) or '—')} {charts.changes_sparkline(run)}</td>\n"
        f"      <td>{links}</td>\n"
        "    </tr>"
    )
