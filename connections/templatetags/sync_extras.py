"""Template helpers for the syncs panel and pages."""

from __future__ import annotations

import html
from typing import Any

from django import template
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from connections.library import status
from connections.syncs import charts
from connections.syncs import engine as sync

from .time_extras import when

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


_BADGES = {"succeeded": "ok", "failed": "bad", "cancelled": "warn", "interrupted": "warn"}
# UUIDs no connection or run has: each link is reversed once per rendering and filled in per row.
_PK_MARK, _RUN_MARK = "00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000001"


def _e(value: Any) -> str:
    return html.escape(str(value))


def _run_url(context: template.Context, name: str, connection_pk: Any, run_pk: Any) -> str:
    """``reverse(name, args=[connection_pk, run_pk])``, reversed once per rendering (a reverse per
    link cost as much as the rest of the row)."""
    key = f"sync_extras.{name}"
    pattern = context.render_context.get(key)
    if pattern is None:
        pattern = context.render_context[key] = reverse(name, args=[_PK_MARK, _RUN_MARK])
    return _e(pattern.replace(_PK_MARK, str(connection_pk)).replace(_RUN_MARK, str(run_pk)))


@register.simple_tag(takes_context=True)
def sync_run_row(context: template.Context, run: Any, connection: Any) -> SafeString:
    """One ``<tr>`` of a runs table, written in Python: the same row as template markup (four URLs,
    a dozen filters) cost more than the query that read the runs."""
    status_ = run.status
    said = ""
    if status_ == "failed":
        error = run.error if isinstance(run.error, dict) else {}
        said = f"<br><small>{_e(error.get('title', ''))}</small>"
    elif status_ in ("cancelled", "interrupted"):
        said = f"<br><small>{_e(run.message)}</small>"
    if run.trigger == "schedule":
        by = '<br><small class="muted" data-trigger="schedule">by schedule</small>'
    elif run.started_by_id is not None and run.started_by is not None:
        by = f'<br><small class="muted">{_e(run.started_by)}</small>'
    else:
        by = ""
    links = ""
    if status_ == "succeeded":
        links = f'<a href="{_run_url(context, "connections:sync_detail", connection.pk, run.pk)}">Browse</a>'
        if run.compared:
            changes = _run_url(context, "connections:sync_changes", connection.pk, run.pk)
            links += f' · <a href="{changes}">Compare</a>'
        export = _run_url(context, "connections:sync_export", connection.pk, run.pk)
        links += f' · <a href="{export}?format=csv">CSV</a> · <a href="{export}?format=jsonl">JSONL</a>'
    elif status_ == "failed":
        links = f'<a href="{_run_url(context, "connections:sync_detail", connection.pk, run.pk)}">Details</a>'
    finished = when(run.finished_at) if run.finished_at else "—"
    return mark_safe(
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
