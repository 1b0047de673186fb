"""Sync history pictures: what the bars show is also said in words (the picture's text alternative)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from django.template.loader import render_to_string

from connections.library import charts

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)


def history_svg(runs, **options) -> str:
    return render_to_string("connections/syncs/_history_chart.html", {"chart": charts.history_chart(runs, **options)})


def changes_sparkline(run) -> str:
    return render_to_string("connections/syncs/_sparkline.html", {"spark": charts.sparkline(run)})


def run(status="succeeded", rows=100, added=None, changed=None, removed=None, minute=0, seconds=2.0):
    start = T0 + dt.timedelta(minutes=minute)
    return SimpleNamespace(
        status=status,
        rows=rows,
        added=added,
        changed=changed,
        removed=removed,
        created_at=start,
        started_at=start,
        duration=seconds,
    )


def test_history_says_in_words_what_the_bars_show_newest_last():
    runs = [
        run(rows=103, added=5, changed=10, removed=2, minute=20),
        run("failed", rows=0, minute=10),
        run(rows=100, minute=0),
    ]  # newest first, as the database gives them
    svg = history_svg(runs, chart_id="c1")
    assert svg.startswith('<svg class="chart history"') and 'role="img"' in svg
    assert 'aria-labelledby="c1-title c1-desc"' in svg
    assert "Last 3 runs, oldest to newest: 2 succeeded, 1 did not." in svg
    assert "Newest (2026-12-01 09:20 UTC): succeeded, 103 rows, 5 added, 10 changed, 2 removed, 2.0 s." in svg
    assert svg.count('class="bar failed"') == 1 and svg.count('class="cross"') == 1
    bars = svg.split("</desc>")[1]
    assert bars.index("09:00 UTC") < bars.index("09:10 UTC") < bars.index("09:20 UTC")
    assert svg.count('class="change added"') == 1 and svg.count('class="change removed"') == 1
    assert "<script" not in svg and "style=" not in svg  # the page's CSP allows neither inline


def test_no_runs_no_picture_and_an_uncompared_run_has_no_sparkline():
    assert history_svg([]).strip() == ""
    assert changes_sparkline(run()).strip() == ""


def test_sparkline_of_a_compared_run_names_its_counts():
    svg = changes_sparkline(run(rows=50, added=1, changed=0, removed=3))
    assert 'aria-label="1 added, 0 changed, 3 removed of 50 rows"' in svg
    assert 'class="change changed"' not in svg


def test_a_display_name_in_a_status_cannot_break_out_of_the_picture():
    svg = history_svg([run(status='"><script>x</script>')])
    assert "<script>" not in svg
