"""Template helpers for the token and job fragments."""

from __future__ import annotations

import datetime
from typing import Any

from django import template
from django.utils import timezone

from connections import tokens
from connections.jobs import kinds
from connections.models import Job, TokenFetch

register = template.Library()


@register.filter
def job_label(kind: str) -> str:
    return kinds.label(kind)


@register.filter
def job_kind(kind: str) -> kinds.JobKind | None:
    """The registry entry of a job's kind, for what the fragment shows (None: no longer defined)."""
    return kinds.KINDS.get(kind)


PANEL_JOB_KINDS = kinds.kinds_where(panel=True)
# Of who asked for the job, the panel shows the name.
_PANEL_JOB_FIELDS = (*(field.name for field in Job._meta.concrete_fields), "requested_by__username")


FETCHES_SHOWN = 5


@register.simple_tag
def latest_token_job(connection: Any) -> Any:
    """The newest token or test job, finished or not: its result stays in view after the panel
    re-renders (the re-render is triggered by that very job finishing)."""
    jobs = connection.jobs.filter(kind__in=PANEL_JOB_KINDS).select_related("requested_by").only(*_PANEL_JOB_FIELDS)
    return jobs.order_by("-created_at", "-pk").first()


@register.simple_tag
def recent_token_fetches(connection: Any) -> list[TokenFetch]:
    """The connection's last token fetches, newest first, with what each gained and lost."""
    return list(connection.token_fetches.all()[:FETCHES_SHOWN])


@register.filter
def isotime(value: str | None) -> datetime.datetime | None:
    """An ISO 8601 string (as stored in JSON) as a datetime, for the ``date`` filter."""
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


@register.inclusion_tag("connections/token/_lifetime.html")
def token_lifetime(token: Any) -> dict[str, Any]:
    """How much of the token's lifetime is left, as a meter (its text says the same in words)."""
    start = token.fetched_at or token.issued_at
    if not (token.is_valid and start and token.expires_at):
        return {"show": False}
    total = max((token.expires_at - start).total_seconds(), 1.0)
    left = max((token.expires_at - timezone.now()).total_seconds(), 0.0)
    # "low" is the refresh window: a token this close to its expiry is renewed, not reused.
    low = min(tokens.REUSE_SECONDS, total)
    return {"show": True, "total": int(total), "left": int(left), "low": int(low), "percent": int(left * 100 // total)}
