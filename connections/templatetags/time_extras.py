"""Times as people read them: relative ("3 minutes ago", "in 2 hours"), the exact UTC time on hover."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

JUST_NOW = dt.timedelta(seconds=45)

# Django's timesince words with depth=1, in the one language the site speaks: its lazy translated
# strings cost a quarter of the list's rows. tests/unit/test_time_extras.py holds the two in step.
_UNITS = ((604_800, "week"), (86_400, "day"), (3_600, "hour"), (60, "minute"))


def _words(count: int, unit: str) -> str:
    return f"{count}\xa0{unit}" if count == 1 else f"{count}\xa0{unit}s"


def _since(earlier: dt.datetime, later: dt.datetime) -> str:
    """``timesince(earlier, later, depth=1)`` (both already in the same time zone, as Django puts them)."""
    delta = later - earlier
    if delta.days * 86_400 + delta.seconds <= 0:
        return _words(0, "minute")
    months = (later.year - earlier.year) * 12 + (later.month - earlier.month)
    if earlier.day > later.day or (earlier.day == later.day and earlier.time() > later.time()):
        months -= 1
    years, months = divmod(months, 12)
    if years:
        return _words(years, "year")
    if months:
        return _words(months, "month")
    seconds = delta.total_seconds()
    for size, unit in _UNITS:
        if seconds >= size:
            return _words(int(seconds // size), unit)
    return _words(0, "minute")


def relative(value: dt.datetime, now: dt.datetime | None = None) -> str:
    """ "just now", "5 minutes ago", "in 2 hours" (one unit, as a glance needs)."""
    now = now or timezone.now()
    if abs(now - value) < JUST_NOW:
        return "just now"
    past = value < now
    if timezone.is_aware(now) and timezone.is_aware(value):
        now = now.astimezone(value.tzinfo)  # as timesince compares them: in value's time zone
    return f"{_since(value, now)} ago" if past else f"in {_since(now, value)}"


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
