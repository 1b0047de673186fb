"""Small server-side SVG pictures of sync history, worked out here and drawn by templates
(connections/syncs/_history_chart.html, _sparkline.html): no script, no inline style, so the strict
Content-Security-Policy holds. Every picture carries its own text alternative (``<title>``/``<desc>``
and ``role="img"``), so a screen reader hears the same facts the bars show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Chart geometry (viewBox units; the SVG scales to its container).
WIDTH, ROWS_HEIGHT, CHANGES_HEIGHT, GAP = 300, 60, 24, 4
BAR_GAP = 2


@dataclass(frozen=True)
class RunPoint:
    """What one run contributes to a picture."""

    status: str
    rows: int
    added: int
    changed: int
    removed: int
    seconds: float | None
    label: str

    @classmethod
    def of(cls, run: Any) -> RunPoint:
        started = run.started_at or run.created_at
        return cls(
            status=run.status,
            rows=run.rows or 0,
            added=run.added or 0,
            changed=run.changed or 0,
            removed=run.removed or 0,
            seconds=run.duration,
            label=f"{started:%Y-%m-%d %H:%M} UTC" if started else "",
        )

    @property
    def failed(self) -> bool:
        return self.status not in ("succeeded", "queued", "running")


def _summary(points: Sequence[RunPoint]) -> str:
    failed = sum(p.failed for p in points)
    succeeded = sum(p.status == "succeeded" for p in points)
    latest = points[-1]
    text = f"Last {len(points)} runs, oldest to newest: {succeeded} succeeded, {failed} did not."
    text += f" Newest ({latest.label}): {latest.status}, {latest.rows} rows"
    if latest.added or latest.changed or latest.removed:
        text += f", {latest.added} added, {latest.changed} changed, {latest.removed} removed"
    if latest.seconds is not None:
        text += f", {latest.seconds:.1f} s"
    return text + "."


def _bar_title(point: RunPoint) -> str:
    parts = [point.label, point.status, f"{point.rows} rows"]
    if point.added or point.changed or point.removed:
        parts.append(f"+{point.added} ~{point.changed} \u2212{point.removed}")
    if point.seconds is not None:
        parts.append(f"{point.seconds:.1f} s")
    return " · ".join(p for p in parts if p)


def _n(value: float) -> str:
    return f"{value:.1f}"


@dataclass(frozen=True)
class Shape:
    """A rectangle of a picture, its coordinates written out (viewBox units)."""

    css: str
    x: str
    y: str
    width: str
    height: str


@dataclass(frozen=True)
class Bar:
    """One run of the history chart: its rows bar (or, failed, a full-height bar with a cross) and its changes."""

    title: str
    failed: bool
    bar: Shape
    cross: str  # the cross's path, for a failed run
    changes: list[Shape]


@dataclass(frozen=True)
class HistoryChart:
    chart_id: str
    width: int
    height: int
    axis_y: str
    summary: str
    bars: list[Bar]


def history_chart(runs: Sequence[Any], *, chart_id: str = "sync-history", slots: int = 20) -> HistoryChart | None:
    """Bars of rows per run (failed runs marked in red, full height, with a cross) and, below, each
    run's added / changed / removed counts stacked; newest run on the right, one of ``slots`` places
    each, so a bar keeps its width as runs accumulate. None: no runs, no picture."""
    points = [RunPoint.of(run) for run in reversed(list(runs))]
    if not points:
        return None
    slot = WIDTH / max(len(points), slots)
    offset = WIDTH - slot * len(points)
    width = max(slot - BAR_GAP, 1.0)
    most_rows = max((p.rows for p in points), default=0) or 1
    most_changes = max((p.added + p.changed + p.removed for p in points), default=0) or 1
    base = ROWS_HEIGHT + GAP
    bars: list[Bar] = []
    for index, point in enumerate(points):
        x = offset + index * slot + BAR_GAP / 2
        if point.failed:
            bar = Shape("bar failed", _n(x), "0", _n(width), str(ROWS_HEIGHT))
            cross = f"M{_n(x)} 0L{_n(x + width)} {ROWS_HEIGHT}M{_n(x + width)} 0L{_n(x)} {ROWS_HEIGHT}"
        else:
            height = max(point.rows / most_rows * ROWS_HEIGHT, 1.0 if point.rows else 0.0)
            bar = Shape(f"bar {point.status}", _n(x), _n(ROWS_HEIGHT - height), _n(width), _n(height))
            cross = ""
        changes = []
        y = float(base)
        for kind, count in (("added", point.added), ("changed", point.changed), ("removed", point.removed)):
            if count:
                height = max(count / most_changes * CHANGES_HEIGHT, 1.0)
                changes.append(Shape(f"change {kind}", _n(x), _n(y), _n(width), _n(height)))
                y += height
        bars.append(Bar(_bar_title(point), point.failed, bar, cross, changes))
    return HistoryChart(chart_id, WIDTH, base + CHANGES_HEIGHT, _n(ROWS_HEIGHT + GAP / 2), _summary(points), bars)


@dataclass(frozen=True)
class Sparkline:
    label: str
    shapes: list[Shape]


SPARK_WIDTH = 60


def sparkline(run: Any) -> Sparkline | None:
    """One run's added / changed / removed as a small stacked bar against its rows (None for a run
    that was not compared)."""
    if run.added is None:
        return None
    counts = (("added", run.added or 0), ("changed", run.changed or 0), ("removed", run.removed or 0))
    total = max(run.rows or 0, sum(c for _, c in counts), 1)
    x = 0.0
    shapes = []
    for kind, count in counts:
        if count:
            width = max(count / total * SPARK_WIDTH, 1.5)
            shapes.append(Shape(f"change {kind}", _n(x), "0", _n(width), "8"))
            x += width
    return Sparkline(f"{run.added} added, {run.changed} changed, {run.removed} removed of {run.rows} rows", shapes)
