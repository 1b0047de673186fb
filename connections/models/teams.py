"""Teams own connections; a membership gives a user one role in one team."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import F
from django.http import Http404, HttpRequest


class Role(models.TextChoices):
    """Ordered: each role can do everything the ones before it can."""

    VIEWER = "viewer", "Viewer"
    OPERATOR = "operator", "Operator"
    ADMIN = "admin", "Admin"


ROLE_RANK: dict[str, int] = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


class TeamScopedQuerySet(models.QuerySet):
    """``Model.objects.for_user(request_or_user, min_role=None)`` for any team-owned model: the one rule.

    ``team_field`` is the path from the model to its team id (``"connection__team"`` for rows owned
    through their connection, ``"pk"`` for the Team itself).
    """

    team_field = "team"

    def for_user(self, request_or_user: Any, min_role: str | None = None) -> Self:
        """Rows of the person's teams where they hold ``min_role`` or more (all for superusers, none
        for anonymous or switched-off accounts)."""
        user = user_of(request_or_user)
        if not _may_read(user):
            return self.none()
        if user.is_superuser:
            return self
        floor = ROLE_RANK[min_role] if min_role else 0
        ids = [m.team_id for m in memberships_of(request_or_user) if ROLE_RANK.get(m.role, 0) >= floor]
        return self.filter(**{f"{self.team_field}__in": ids})

    def get_for_user(self, request_or_user: Any, min_role: str | None = None, **lookup: Any) -> Any:
        """One row of the person's teams: 404 if absent or another team's, 403 if the role is below
        ``min_role``. The row carries ``access_role`` and ``can`` (a ``Can``) for the templates."""
        try:
            found = self.for_user(request_or_user).annotate(_access_team=F(self.team_field)).filter(**lookup)
            obj: Any = found.order_by().first()
        except ValidationError:  # a malformed id: no such row
            obj = None
        if obj is None:
            raise Http404("No such object in your teams.")
        role = role_in(request_or_user, obj._access_team)
        if min_role and ROLE_RANK.get(role or "", 0) < ROLE_RANK[min_role]:
            raise PermissionDenied(f"This needs the {min_role} role in the team.")
        obj.access_role = role
        obj.can = Can(role)
        return obj

    def with_can(self, request_or_user: Any) -> list[Any]:
        """The rows (already scoped), each with ``access_role`` and ``can`` from the person's memberships."""
        rows: list[Any] = list(self.annotate(_access_team=F(self.team_field)))
        for row in rows:
            row.access_role = role_in(request_or_user, row._access_team)
            row.can = Can(row.access_role)
        return rows


class TeamQuerySet(TeamScopedQuerySet):
    team_field = "pk"


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")
    created_at = models.DateTimeField(auto_now_add=True)

    access_role: str | None  # set by TeamScopedQuerySet.get_for_user / with_can on the rows it returns

    objects = TeamQuerySet.as_manager()

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


# Team scoping: every read of team-owned rows goes through ``TeamScopedQuerySet.for_user`` /
# ``get_for_user``; the person's roles come from ``memberships_of``, read once per request.


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


def user_of(request_or_user: Any) -> Any:
    """Accept a request or a user, so service code and views call the same helpers."""
    return request_or_user.user if isinstance(request_or_user, HttpRequest) else request_or_user


def _may_read(user: Any) -> bool:
    """Signed in and not switched off: a switched-off account sees nothing, whatever its session says."""
    return user is not None and user.is_authenticated and user.is_active


_MEMBERSHIPS_OF_REQUEST = "_graphconn_memberships"


def memberships_of(request_or_user: Any) -> list[Membership]:
    """The person's memberships, each with its team, in team-name order.

    Read once per request (a page scopes several reads and looks up the role of each row it shows);
    kept with the user it was read for, since signing in (single sign-on sets teams) changes the user.
    """
    user = user_of(request_or_user)
    if not _may_read(user):
        return []
    request = request_or_user if isinstance(request_or_user, HttpRequest) else None
    cached = getattr(request, _MEMBERSHIPS_OF_REQUEST, None)
    if cached is not None and cached[0] == user.pk:
        return cached[1]
    found = list(Membership.objects.filter(user=user).select_related("team").order_by("team__name"))
    if request is not None:
        setattr(request, _MEMBERSHIPS_OF_REQUEST, (user.pk, found))
    return found


def role_in(request_or_user: Any, team_id: int | None) -> str | None:
    """The person's role in the team (admin everywhere for superusers; None: not theirs)."""
    user = user_of(request_or_user)
    if team_id is None or not _may_read(user):
        return None
    if user.is_superuser:
        return Role.ADMIN
    return next((m.role for m in memberships_of(request_or_user) if m.team_id == team_id), None)


def can_for(request_or_user: Any, team: Team | int | None) -> Can:
    return Can(role_in(request_or_user, team.pk if isinstance(team, Team) else team))
