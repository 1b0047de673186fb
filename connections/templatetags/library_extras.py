"""Template helpers for the connection list.

``{% connection_rows connections %}`` writes the list's rows in Python: the list shows every connection
of the user's teams, and the same rows as template markup (about 45 nodes, two filters and a URL
per row) cost more than all of the list's queries together. What the row shows, and in which
words, is what the template showed; keep the two in step when a column changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django import template
from django.template.defaultfilters import pluralize
from django.utils.safestring import SafeString, mark_safe

from ..models import Connection
from .markup import UrlPattern
from .markup import escape as _e
from .time_extras import when

register = template.Library()


def _token(c: Any) -> str:
    state = c.token_state
    if state == "valid":
        until = (
            # In UTC, as it says (localtime's current-time-zone lookup cost a tenth of the rows).
            f" <small>until {c.token_expires_at.astimezone(dt.timezone.utc):%H:%M} UTC</small>"
            if c.token_expires_at
            else ""
        )
        return f'<span class="badge ok">valid</span>{until}'
    if state == "expired":
        return '<span class="badge warn">expired</span>'
    if state == "error":
        error = _e(c.token_error)
        return f'<span class="badge bad" title="{error}">error</span> <small>{error}</small>'
    if state == "sign_in":
        return '<span class="badge warn">sign-in required</span>'
    return '<span class="badge muted">none</span>'


def _last_sync(c: Any) -> str:
    if c.last_sync_status:
        status = _e(c.last_sync_status)
        badge = {"succeeded": "ok", "failed": "bad"}.get(c.last_sync_status, "muted")
        said = f'<span class="badge {badge}">{status}</span>'
        if c.last_sync_rows is not None:
            said += f" <small>{_e(c.last_sync_rows)} rows</small>"
        if c.last_sync_added is not None:
            said += (
                f' <small class="muted" title="added, changed, removed since the sync before">'
                f"+{_e(c.last_sync_added)} ~{_e(c.last_sync_changed)} &minus;{_e(c.last_sync_removed)}</small>"
            )
        if c.last_sync_at:
            said += f' <br><small class="muted">{when(c.last_sync_at)}</small>'
    else:
        said = '<span class="muted">never</span>'
    upcoming = f"next {when(c.next_run)}" if c.next_run else "not scheduled"
    return f'{said} <br><small class="muted next-run">{upcoming}</small>'


def _credential(c: Any) -> str:
    kind = "Certificate" if c.uses_certificate else "Client secret"
    e = c.expiry
    if e.days is None:
        return f'<span class="muted">{kind}</span><br> <span class="muted">expiry unknown</span>'
    badge = "bad" if e.level in ("expired", "1", "7") else "warn" if e.level == "30" else "ok"
    ends, source = e.ends_on.isoformat(), _e(e.source_words)
    return (
        f'<span class="muted">{kind}</span><br> <span class="badge {badge}" title="{ends}, {source}">'
        f'{_e(e.words)}</span> <br><small class="muted">{ends} · {source}</small>'
    )


def _problems(c: Any) -> str:
    found = c.problems
    if not found:
        return '<span class="badge ok">none</span>'
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return (
        f'<span class="badge bad" title="{_e(" ".join(found))}">{len(found)} problem{pluralize(len(found))}</span>'
        f" <br><small>{_e(found[0])}{more}</small>"
    )


# get_grant_type_display() without its per-call dict of the choices.
_GRANT_TYPES = dict(Connection.GrantType.choices)


def _row(c: Any, detail_url: UrlPattern) -> str:
    """One ``<tr>`` of the list for a connection prepared by the list view (status, problems, expiry, health)."""
    health, grant_type = _e(c.health), _e(_GRANT_TYPES.get(c.grant_type, c.grant_type))
    return (
        f'<tr data-health="{health}">\n'
        f'      <td><span class="health {health}">{_e(c.health.label)}</span></td>\n'
        f'      <td><a href="{detail_url.fill(c.pk)}"><strong>{_e(c.name)}</strong></a>'
        f'<br><small class="muted">{grant_type} · {_e(c.token_version)}</small></td>\n'
        f"      <td>{_e(c.team.name)}</td>\n"
        f"      <td><code>{_e(c.entity)}</code></td>\n"
        f"      <td>{_token(c)}</td>\n"
        f"      <td>{_last_sync(c)}</td>\n"
        f"      <td>{_credential(c)}</td>\n"
        f"      <td>{_problems(c)}</td>\n"
        "    </tr>"
    )


@register.simple_tag
def connection_rows(connections: Iterable[Any]) -> SafeString:
    """Every ``<tr>`` of the list in one tag (a template loop calling a tag per row added a quarter to their cost)."""
    detail_url = UrlPattern("connections:detail")
    return mark_safe("\n    ".join(_row(c, detail_url) for c in connections))
