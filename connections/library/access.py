"""Who may see and do what, for views: the one scoping rule applied to connections and teams.

Every team-owned read goes through ``Model.objects.for_user(request)`` / ``get_for_user(...)``
(``TeamScopedQuerySet``, with the team models), so another team's object answers 404 (its
existence is not revealed), and a role too low for the action answers 403. Superusers see and do
everything; a switched-off account sees nothing. The helpers here are that rule applied to what
most views fetch.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from connections.models import Connection
from connections.models.teams import Can, Role, Team, can_for, memberships_of, user_of


def admin_teams(request_or_user: Any) -> models.QuerySet[Team]:
    """Teams where the user may create connections."""
    return Team.objects.for_user(request_or_user, Role.ADMIN)


def teams_of(request: HttpRequest) -> list[Team]:
    """The user's teams in name order, each with ``access_role`` (every team, as admin, for superusers)."""
    user = request.user
    if user.is_superuser and user.is_active:
        return Team.objects.for_user(request).with_can(request)
    teams = []
    for membership in memberships_of(request):
        membership.team.access_role = membership.role
        teams.append(membership.team)
    return teams


def get_for_user(
    queryset: models.QuerySet[Any], request_or_user: Any, min_role: str | None = None, **lookup: Any
) -> Any:
    """``queryset.get_for_user(...)``, for a queryset of any team-owned model."""
    return queryset.get_for_user(request_or_user, min_role, **lookup)  # type: ignore[attr-defined]


def get_connection_for_user(
    request_or_user: Any, pk: Any, min_role: str | None = None, queryset: models.QuerySet[Connection] | None = None
) -> Connection:
    """The connection ``pk`` if the user's team owns it (404 otherwise; 403 below ``min_role``).

    ``queryset`` lets a page join what it shows; scoping still applies.
    """
    base = queryset if queryset is not None else Connection.objects.select_related("team")
    return get_for_user(base, request_or_user, min_role, pk=pk)


__all__ = [
    "Can",
    "admin_teams",
    "can_for",
    "get_connection_for_user",
    "get_for_user",
    "teams_of",
    "user_of",
]
