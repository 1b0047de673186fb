"""Times as people read them: relative words ("3 minutes ago", "in 2 hours") with the exact UTC time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

# Under a minute Django's timesince says "0 minutes": every such time reads "just now" instead.
JUST_NOW = dt.timedelta(minutes=1)


def relative(value: dt.datetime, now: dt.datetime | None = None) -> str:
    """ "just now", "5 minutes ago", "in 2 hours": Django's timesince/timeuntil with one unit, as a glance needs."""
    now = now or timezone.now()
    if abs(now - value) < JUST_NOW:
        return "just now"
    if value < now:
        return f"{timesince(value, now, depth=1)} ago"
    return f"in {timeuntil(value, now, depth=1)}"


@dataclass(frozen=True)
class When:
    """A time as a page shows it (connections/_when.html): relative words, the exact UTC time on hover."""

    iso: str
    exact: str
    words: str

    @classmethod
    def of(cls, value: dt.datetime | None, now: dt.datetime | None = None) -> When | None:
        if value is None:
            return None
        if timezone.is_naive(value):
            value = timezone.make_aware(value, dt.timezone.utc)
        utc = value.astimezone(dt.timezone.utc).replace(microsecond=0)
        return cls(utc.isoformat(), f"{utc:%Y-%m-%d %H:%M:%S}", relative(value, now))
