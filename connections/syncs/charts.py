"""Small server-side SVG pictures of sync history: no script, no inline style, so the strict
Content-Security-Policy holds. Every picture carries its own text alternative (``<title>``/``<desc>``
and ``role="img"``), so a screen reader hears the same facts the bars show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape  # what Django's escape does, without its lazy-string wrapper (a page draws hundreds)
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

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


def history_svg(runs: Sequence[Any], *, chart_id: str = "sync-history", slots: int = 20) -> SafeString:
    """Bars of rows per run (failed runs marked in red, full height, with a cross) and, below, each
    run's added / changed / removed counts stacked; newest run on the right, one of ``slots`` places
    each, so a bar keeps its width as runs accumulate."""
    points = [RunPoint.of(run) for run in reversed(list(runs))]
    if not points:
        return mark_safe("")
    slot = WIDTH / max(len(points), slots)
    offset = WIDTH - slot * len(points)
    bar = max(slot - BAR_GAP, 1.0)
    most_rows = max((p.rows for p in points), default=0) or 1
    most_changes = max((p.added + p.changed + p.removed for p in points), default=0) or 1
    base = ROWS_HEIGHT + GAP
    shapes: list[str] = []
    for index, point in enumerate(points):
        x = offset + index * slot + BAR_GAP / 2
        shapes.append(f'<g class="run"><title>{escape(_bar_title(point))}</title>')
        if point.failed:
            shapes.append(f'<rect class="bar failed" x="{x:.1f}" y="0" width="{bar:.1f}" height="{ROWS_HEIGHT}"/>')
            shapes.append(
                f'<path class="cross" d="M{x:.1f} 0L{x + bar:.1f} {ROWS_HEIGHT}'
                f'M{x + bar:.1f} 0L{x:.1f} {ROWS_HEIGHT}"/>'
            )
        else:
            height = max(point.rows / most_rows * ROWS_HEIGHT, 1.0 if point.rows else 0.0)
            shapes.append(
                f'<rect class="bar {escape(point.status)}" x="{x:.1f}" y="{ROWS_HEIGHT - height:.1f}" '
                f'width="{bar:.1f}" height="{height:.1f}"/>'
            )
        y = float(base)
        for kind, count in (("added", point.added), ("changed", point.changed), ("removed", point.removed)):
            if count:
                height = max(count / most_changes * CHANGES_HEIGHT, 1.0)
                shapes.append(
                    f'<rect class="change {kind}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}"/>'
                )
                y += height
        shapes.append("</g>")
    height = base + CHANGES_HEIGHT
    return format_html(
        '<svg class="chart history" viewBox="0 0 {} {}" preserveAspectRatio="none" role="img" '
        'aria-labelledby="{}-title {}-desc"><title id="{}-title">Sync history</title>'
        '<desc id="{}-desc">{}</desc>'
        '<line class="axis" x1="0" y1="{}" x2="{}" y2="{}"/>{}</svg>',
        WIDTH,
        height,
        chart_id,
        chart_id,
        chart_id,
        chart_id,
        _summary(points),
        ROWS_HEIGHT + GAP / 2,
        WIDTH,
        ROWS_HEIGHT + GAP / 2,
        mark_safe("".join(shapes)),
    )


def changes_sparkline(run: Any) -> SafeString:
    """One run's added / changed / removed as a small stacked bar against its rows (nothing for a
    run that was not compared)."""
    if run.added is None:
        return mark_safe("")
    counts = (("added", run.added or 0), ("changed", run.changed or 0), ("removed", run.removed or 0))
    total = max(run.rows or 0, sum(c for _, c in counts), 1)
    x = 0.0
    shapes = ['<rect class="track" x="0" y="0" width="60" height="8"/>']
    for kind, count in counts:
        if count:
            width = max(count / total * 60, 1.5)
            shapes.append(f'<rect class="change {kind}" x="{x:.1f}" y="0" width="{width:.1f}" height="8"/>')
            x += width
    alt = f"{run.added} added, {run.changed} changed, {run.removed} removed of {run.rows} rows"
    alt = escape(alt)
    return mark_safe(
        '<svg class="chart sparkline" viewBox="0 0 60 8" preserveAspectRatio="none" role="img" '
        f'aria-label="{alt}"><title>{alt}</title>{"".join(shapes)}</svg>'
    )
