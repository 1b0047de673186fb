"""Template tags for the permission pages: the over-privilege note and a declined consent's outcome."""

from __future__ import annotations

from typing import Any

from django import template

from connections.tokens import consent, privileges
from microsoft.diagnoses import Diagnosis

register = template.Library()


@register.simple_tag
def over_privilege(connection: Any, token: Any) -> privileges.OverPrivilege | None:
    if token is None or getattr(token, "kind", "") != "app":
        return None
    return privileges.over_privilege(connection, list(token.permissions or []))


@register.simple_tag(takes_context=True)
def consent_outcome(context: Any, connection: Any) -> Diagnosis | None:
    """A declined admin consent's explanation, shown once on the connection page."""
    request = context.get("request")
    return consent.pop_outcome(request, connection) if request is not None else None
