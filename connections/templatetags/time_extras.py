"""Times as people read them: relative ("3 minutes ago", "in 2 hours"), the exact UTC time on hover."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince, timeuntil

register = template.Library()

JUST_NOW = dt.timedelta(seconds=45)


def relative(value: dt.datetime, now: dt.datetime | None = None) -> str:
    """ "just now", "5 minutes ago", "in 2 hours" (one unit, as a glance needs)."""
    now = now or timezone.now()
    if abs(now - value) < JUST_NOW:
        return "just now"
    if value < now:
        return f"{timesince(value, now, depth=1)} ago"
    return f"in {timeuntil(value, now, depth=1)}"


@register.filter
def when(value: Any) -> SafeString | str:
    """``{{ run.finished_at|when }}`` → ``<time datetime="…" title="2026-12-01 09:20:31 UTC">5 minutes ago</time>``."""
    if not isinstance(value, dt.datetime):
        return "" if value is None else str(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.timezone.utc)
    exact = value.astimezone(dt.timezone.utc)
    # What format_html wrote, without its lazy-string machinery (pages show dozens of these).
    return mark_safe(
        f'<time datetime="{html.escape(exact.isoformat(timespec="seconds"))}" '
        f'title="{exact:%Y-%m-%d %H:%M:%S} UTC">{html.escape(relative(value))}</time>'
    )
