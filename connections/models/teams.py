"""Teams own connections; a membership gives a user one role in one team."""

from __future__ import annotations

from typing import Any, TypeVar

from django.conf import settings
from django.db import models
from django.http import HttpRequest

from .compiled import CompiledQuery


class Role(models.TextChoices):
    """Ordered: each role can do everything the ones before it can."""

    VIEWER = "viewer", "Viewer"
    OPERATOR = "operator", "Operator"
    ADMIN = "admin", "Admin"


ROLE_RANK: dict[str, int] = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}

_QuerySet = TypeVar("_QuerySet", bound=models.QuerySet)


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")
    created_at = models.DateTimeField(auto_now_add=True)

    access_role: str | None  # set by library.access.with_role on the rows it returns

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")]
        ordering = ["team__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.team}"


# Team scoping: every query of team-owned rows goes through ``scope`` (``Model.objects.for_user``).


def user_of(request_or_user: Any) -> Any:
    """Accept a request or a user, so service code and views call the same helpers."""
    return request_or_user.user if isinstance(request_or_user, HttpRequest) else request_or_user


def roles_at_least(min_role: str | None) -> list[str]:
    floor = ROLE_RANK[min_role] if min_role else 0
    return [role for role, rank in ROLE_RANK.items() if rank >= floor]


def team_ids(user: Any, min_role: str | None = None) -> models.QuerySet:
    """Ids of the user's teams where they hold ``min_role`` or more (a subquery, not a list)."""
    return Membership.objects.filter(user=user, role__in=roles_at_least(min_role)).values("team_id")


_MEMBERSHIPS_OF_REQUEST = "_graphconn_memberships"
_MEMBERSHIPS = CompiledQuery(
    lambda user_id: Membership.objects.filter(user_id=user_id).select_related("team").order_by("team__name"), int
)


def memberships_of(request: HttpRequest) -> list[Membership]:
    """The signed-in user's memberships, each with its team, read once per request.

    A page scopes several queries; a list of team ids costs Django far less to compile than the
    membership subquery in each of them, and the role of a fetched row is then a dict lookup.
    """
    user: Any = request.user  # signed in: callers scope anonymous users to nothing first
    cached = getattr(request, _MEMBERSHIPS_OF_REQUEST, None)
    if cached is not None and cached[0] == user.pk:  # signing in (single sign-on sets teams) changes the user
        return cached[1]
    found = _MEMBERSHIPS.fetch(user.pk)
    setattr(request, _MEMBERSHIPS_OF_REQUEST, (user.pk, found))
    return found


def team_roles(request: HttpRequest) -> dict[int, str]:
    """The signed-in user's role in each of their teams (``memberships_of``)."""
    return {membership.team_id: membership.role for membership in memberships_of(request)}


def scope(
    queryset: _QuerySet, request_or_user: Any, min_role: str | None = None, team_field: str = "team"
) -> _QuerySet:
    """``queryset`` limited to rows of the user's teams (all rows for superusers, none for anonymous)."""
    user = user_of(request_or_user)
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    if isinstance(request_or_user, HttpRequest):
        floor = ROLE_RANK[min_role] if min_role else 0
        ids = [team for team, role in team_roles(request_or_user).items() if ROLE_RANK.get(role, 0) >= floor]
        return queryset.filter(**{f"{team_field}__in": ids})
    return queryset.filter(**{f"{team_field}__in": team_ids(user, min_role)})


class TeamScopedQuerySet(models.QuerySet):
    """``Model.objects.for_user(user, min_role=None)`` for any team-owned model."""

    team_field = "team"

    def for_user(self, request_or_user: Any, min_role: str | None = None) -> TeamScopedQuerySet:
        return scope(self, request_or_user, min_role, self.team_field)
