"""Relative times with the exact UTC time on hover."""

from __future__ import annotations

import datetime as dt

from django.template import Context, Template

from connections.library.times import relative

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


def test_relative_words():
    assert relative(NOW - dt.timedelta(seconds=10), NOW) == "just now"
    assert relative(NOW - dt.timedelta(minutes=5, seconds=20), NOW) == "5\xa0minutes ago"
    assert relative(NOW + dt.timedelta(hours=2, minutes=3), NOW) == "in 2\xa0hours"
    assert relative(NOW - dt.timedelta(days=3, hours=4), NOW) == "3\xa0days ago"


def test_every_time_under_a_minute_away_is_just_now():
    """Never "0 minutes ago" beside "just now": the words change at the minute, in both directions."""
    for seconds in (0, 1, 30, 44, 45, 50, 59):
        assert relative(NOW - dt.timedelta(seconds=seconds), NOW) == "just now", seconds
        assert relative(NOW + dt.timedelta(seconds=seconds), NOW) == "just now", seconds
    assert relative(NOW - dt.timedelta(seconds=60), NOW) == "1\xa0minute ago"
    assert relative(NOW + dt.timedelta(seconds=61), NOW) == "in 1\xa0minute"


def test_when_renders_a_time_element_with_the_exact_time_on_hover():
    html = Template("{% load time_extras %}{% when at %}").render(
        Context({"at": dt.datetime(2026, 11, 30, 9, 20, 31, tzinfo=dt.timezone.utc)})
    )
    assert html.startswith('<time datetime="2026-11-30T09:20:31+00:00" title="2026-11-30 09:20:31 UTC">')
    assert html.strip().endswith("ago</time>")
    assert Template("{% load time_extras %}{% when at %}").render(Context({"at": None})).strip() == ""
