"""Template helpers for the token and job fragments."""
from __future__ import annotations

import datetime
from typing import Any

from django import template

from ..actions import LABELS

register = template.Library()


@register.filter
def job_label(kind: str) -> str:
    return LABELS.get(kind, kind.replace("_", " ").capitalize())


PANEL_JOB_KINDS = ("token_fetch", "token_refetch", "token_refresh", "test")


@register.simple_tag
def latest_token_job(connection: Any) -> Any:
    """The newest token or test job, finished or not: its result stays in view after the panel
    re-renders (the re-render is triggered by that very job finishing)."""
    return connection.jobs.filter(kind__in=PANEL_JOB_KINDS).select_related("requested_by").first()


@register.filter
def isotime(value: str | None) -> datetime.datetime | None:
    """An ISO 8601 string (as stored in JSON) as a datetime, for the ``date`` filter."""
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
