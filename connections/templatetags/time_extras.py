"""Times as people read them: relative ("3 minutes ago", "in 2 hours"), the exact UTC time on hover."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

register = template.Library()

# Under a minute Django's timesince says "0 minutes": every such time reads "just now" instead.
JUST_NOW = dt.timedelta(minutes=1)


@register.filter
def relative(value: dt.datetime, now: dt.datetime | None = None) -> str:
    """ "just now", "5 minutes ago", "in 2 hours": Django's timesince/timeuntil with one unit, as a glance needs."""
    now = now or timezone.now()
    if abs(now - value) < JUST_NOW:
        return "just now"
    if value < now:
        return f"{timesince(value, now, depth=1)} ago"
    return f"in {timeuntil(value, now, depth=1)}"


@register.inclusion_tag("connections/_when.html")
def when(value: Any) -> dict[str, Any]:
    """``{% when run.finished_at %}``: a ``<time>`` saying how long ago, with the exact UTC time on hover."""
    if isinstance(value, dt.datetime) and timezone.is_naive(value):
        value = timezone.make_aware(value, dt.timezone.utc)
    if isinstance(value, dt.datetime):
        return {"at": value.astimezone(dt.timezone.utc).replace(microsecond=0), "words": relative(value)}
    return {"at": None, "text": "" if value is None else value}
