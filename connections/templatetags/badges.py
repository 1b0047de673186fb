"""The badge of a run's or a job's status: ``{{ run.status|status_badge }}`` (one mapping, ``status.RUN_BADGES``)."""

from __future__ import annotations

from django import template

from connections.library import status

register = template.Library()


@register.filter
def status_badge(state: str | None) -> str:
    return status.run_badge(state)
