"""What every page shows of the signed-in person: their teams and role in each (the footer)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from connections.models.teams import memberships_of


def signed_in(request: HttpRequest) -> dict[str, Any]:
    """``my_memberships``: read only when a page shows it, once per request (``memberships_of``)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"my_memberships": []}
    return {"my_memberships": SimpleLazyObject(lambda: memberships_of(request))}
