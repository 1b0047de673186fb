"""Relative times with the exact UTC time on hover."""

from __future__ import annotations

import datetime as dt

from connections.templatetags.time_extras import relative, when

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


def test_relative_words():
    assert relative(NOW - dt.timedelta(seconds=10), NOW) == "just now"
    assert relative(NOW - dt.timedelta(minutes=5, seconds=20), NOW) == "5\xa0minutes ago"
    assert relative(NOW + dt.timedelta(hours=2, minutes=3), NOW) == "in 2\xa0hours"
    assert relative(NOW - dt.timedelta(days=3, hours=4), NOW) == "3\xa0days ago"


def test_when_renders_a_time_element_with_the_exact_time_on_hover():
    html = when(dt.datetime(2026, 11, 30, 9, 20, 31, tzinfo=dt.timezone.utc))
    assert html.startswith('<time datetime="2026-11-30T09:20:31+00:00" title="2026-11-30 09:20:31 UTC">')
    assert html.endswith("ago</time>")
    assert when(None) == ""


def test_relative_words_are_djangos_timesince_with_one_unit():
    """``relative`` writes timesince's words itself (for speed): both must agree, across month ends,
    leap years, DST changes and other time zones than now's."""
    import random
    import zoneinfo

    from django.utils.timesince import timesince, timeuntil

    zones = [dt.timezone.utc, zoneinfo.ZoneInfo("Europe/Berlin"), dt.timezone(dt.timedelta(hours=5, minutes=30))]
    spans = [60, 3600, 86_400, 86_400 * 40, 86_400 * 400, 86_400 * 3000]
    pick = random.Random(7)
    for _ in range(5000):
        now = NOW + dt.timedelta(seconds=pick.randrange(-4 * 365 * 86_400, 0), microseconds=pick.randrange(10**6))
        span = pick.choice(spans)
        value = (now + dt.timedelta(seconds=pick.uniform(-span, span))).astimezone(pick.choice(zones))
        if pick.random() < 0.3:  # whole days and months apart, to the second
            value = now.replace(microsecond=0) + dt.timedelta(days=pick.randrange(-800, 800))
        now = now.astimezone(pick.choice(zones))
        if abs(now - value) < dt.timedelta(seconds=45):
            expected = "just now"
        elif value < now:
            expected = f"{timesince(value, now, depth=1)} ago"
        else:
            expected = f"in {timeuntil(value, now, depth=1)}"
        assert relative(value, now) == expected, (value, now)
