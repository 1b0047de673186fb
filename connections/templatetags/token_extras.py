"""Template helpers for the token and job fragments."""
from __future__ import annotations

import datetime

from django import template

from ..actions import LABELS

register = template.Library()


@register.filter
def job_label(kind: str) -> str:
    return LABELS.get(kind, kind.replace("_", " ").capitalize())


@register.filter
def isotime(value: str | None) -> datetime.datetime | None:
    """An ISO 8601 string (as stored in JSON) as a datetime, for the ``date`` filter."""
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
