"""Who may see and do what: the one place every query of team-owned data is scoped.

Every view gets its objects through ``get_for_user`` / ``get_connection_for_user`` or a
``.for_user(user)`` queryset, so another team's object answers 404 (its existence is not
revealed), and a role too low for the action answers 403. Superusers see and do everything.

The scoping itself (``scope``, ``TeamScopedQuerySet``) lives with the team models; models owned
through a chain of foreign keys set ``team_field`` to that chain (e.g. ``"connection__team"``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import F, OuterRef, Subquery, Value
from django.http import Http404, HttpRequest

from connections.models import Connection
from connections.models.compiled import CompiledQuery
from connections.models.teams import ROLE_RANK, Membership, Role, Team, memberships_of, scope, team_roles, user_of

M = TypeVar("M", bound=models.Model)
Q = TypeVar("Q", bound=models.QuerySet)


@dataclass(frozen=True)
class Can:
    """What the current user may do with one team's objects; templates read ``can.operate`` etc."""

    role: str | None = None

    @property
    def _rank(self) -> int:
        return ROLE_RANK.get(self.role or "", 0)

    @property
    def view(self) -> bool:
        return self._rank >= 1

    @property
    def operate(self) -> bool:
        """Get and re-fetch tokens, test, sync, sign in."""
        return self._rank >= 2

    @property
    def admin(self) -> bool:
        """Create, edit, delete profiles and replace secrets."""
        return self._rank >= 3


def role_in_team(request_or_user: Any, team: Team | int | None) -> str | None:
    """The user's role in ``team`` (admin for superusers), or None."""
    user = user_of(request_or_user)
    if team is None or not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.ADMIN
    team_id = team if isinstance(team, int) else team.pk
    if isinstance(request_or_user, HttpRequest):
        return team_roles(request_or_user).get(team_id)
    return Membership.objects.filter(user=user, team_id=team_id).values_list("role", flat=True).first()


def can_for(request_or_user: Any, team: Team | int | None) -> Can:
    return Can(role_in_team(request_or_user, team))


def admin_teams(request_or_user: Any) -> models.QuerySet[Team]:
    """Teams where the user may create connections."""
    return scope(Team.objects.all(), request_or_user, Role.ADMIN, team_field="pk")


def with_role(queryset: Q, request_or_user: Any, team_field: str | None = None) -> Q:
    """Annotate each row with ``access_role``, the user's role in the row's team (same query)."""
    user = user_of(request_or_user)
    field = team_field or str(getattr(queryset, "team_field", "team"))
    if user.is_superuser:
        return queryset.annotate(access_role=Value(Role.ADMIN.value, output_field=models.CharField()))
    if not user.is_authenticated:
        return queryset.annotate(access_role=Value(None, output_field=models.CharField()))
    role_of_user = Membership.objects.filter(team=OuterRef(field), user=user).values("role")[:1]
    return queryset.annotate(access_role=Subquery(role_of_user))


def teams_of(request: HttpRequest) -> list[Team]:
    """The user's teams in name order, each with ``access_role`` (every team, as admin, for superusers)."""
    user = request.user
    if user.is_superuser:
        return list(with_role(Team.objects.all(), request, team_field="pk"))
    if not user.is_authenticated or not user.is_active:
        return []
    teams = []
    for membership in memberships_of(request):
        membership.team.access_role = membership.role
        teams.append(membership.team)
    return teams


def get_for_user(
    queryset: models.QuerySet[M],
    request_or_user: Any,
    min_role: str | None = None,
    *,
    team_field: str | None = None,
    **lookup: Any,
) -> M:
    """One object of the user's teams, in one query; 404 if absent or another team's, 403 if the role is too low.

    The returned object carries ``.can`` (a ``Can``) for the templates.
    """
    user = user_of(request_or_user)
    field = team_field or str(getattr(queryset, "team_field", "team"))
    if _knows_teams(request_or_user, user):
        # The row brings its team id, the role is looked up.
        found = scope(queryset, request_or_user, None, field).annotate(_access_team=F(field))
        obj = _with_team_role(found.filter(**lookup).first(), request_or_user)
    else:
        obj = with_role(scope(queryset, user, None, field), user, field).filter(**lookup).first()
    return _checked(obj, min_role)


def _knows_teams(request_or_user: Any, user: Any) -> bool:
    """A request of a signed-in, active, ordinary user: its memberships (read once) scope by team ids."""
    return (
        isinstance(request_or_user, HttpRequest) and user.is_authenticated and user.is_active and not user.is_superuser
    )


def _with_team_role(obj: M | None, request: HttpRequest) -> M | None:
    """``obj`` (read with ``_access_team``) with the user's role in its team."""
    if obj is not None:
        obj.access_role = team_roles(request).get(obj._access_team)  # type: ignore[attr-defined]
    return obj


def _checked(obj: M | None, min_role: str | None) -> M:
    """404 for no object (absent or another team's), 403 for a role below ``min_role``; else ``obj`` with ``.can``."""
    if obj is None:
        raise Http404("No such object in your teams.")
    role = obj.access_role  # type: ignore[attr-defined]
    if min_role and ROLE_RANK.get(role or "", 0) < ROLE_RANK[min_role]:
        raise PermissionDenied(f"This needs the {min_role} role in the team.")
    obj.can = Can(role)  # type: ignore[attr-defined]
    return obj


class CompiledConnection:
    """``get_connection_for_user`` for a page that reads one connection on every view with a query
    too costly to compile each time: ``queryset`` (a fixed one: joins, columns, annotations) filtered by
    pk and the user's teams is compiled once per process (``CompiledQuery``). Scoped and answered the
    same way; a superuser or a task (no request) gets the ordinary query."""

    def __init__(self, queryset: models.QuerySet[Connection]) -> None:
        self.queryset = queryset.select_related("team")
        self._query = CompiledQuery(
            lambda pk, teams: (
                self.queryset.filter(pk=pk, team_id__in=teams).annotate(_access_team=F("team")).order_by()[:1]
            ),
            uuid.UUID,
            [int],
        )

    def get(self, request_or_user: Any, pk: Any, min_role: str | None = None) -> Connection:
        if not _knows_teams(request_or_user, user_of(request_or_user)):
            return get_for_user(self.queryset, request_or_user, min_role, pk=pk)
        try:
            key = uuid.UUID(str(pk))
        except ValueError:  # not a UUID: no such connection
            return _checked(None, min_role)
        connection = self._query.first(key, list(team_roles(request_or_user)))
        return _checked(_with_team_role(connection, request_or_user), min_role)


def get_connection_for_user(
    request_or_user: Any, pk: Any, min_role: str | None = None, queryset: models.QuerySet[Connection] | None = None
) -> Connection:
    """The connection ``pk`` if the user's team owns it (404 otherwise; 403 below ``min_role``).

    ``queryset`` lets a page add annotations (``status.with_status``); scoping still applies.
    """
    base = queryset if queryset is not None else Connection.objects.all()
    return get_for_user(base.select_related("team"), request_or_user, min_role, pk=pk)


__all__ = [
    "Can",
    "CompiledConnection",
    "admin_teams",
    "can_for",
    "get_connection_for_user",
    "get_for_user",
    "role_in_team",
    "scope",
    "teams_of",
    "user_of",
    "with_role",
]
