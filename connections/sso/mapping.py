"""From a verified ID token to a dashboard user: matched by ``tid`` + ``oid``, teams from the claims.

Entra is the source of truth for people who sign in with Microsoft: their memberships are
replaced at every sign-in by what their ``roles`` and ``groups`` map to, so a role removed in
Entra is gone at the next sign-in, and a person with no mapping keeps no team.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ..models import ROLE_RANK, ClaimMapping, EntraIdentity, Membership

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Person:
    """The claims the dashboard uses, read once from a verified ID token."""

    tenant_id: str
    object_id: str
    upn: str
    display_name: str
    roles: tuple[str, ...]
    groups: tuple[str, ...]

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Person:
        def strings(name: str) -> tuple[str, ...]:
            value = claims.get(name) or []
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        upn = str(claims.get("preferred_username") or claims.get("upn") or "")
        return cls(
            tenant_id=str(claims.get("tid") or "").lower(),
            object_id=str(claims.get("oid") or "").lower(),
            upn=upn[:255],
            display_name=str(claims.get("name") or upn)[:255],
            roles=strings("roles"),
            groups=tuple(g.lower() for g in strings("groups")),
        )


def users_for(person: Person) -> Any:
    return get_user_model().objects.filter(
        entra_identity__tenant_id=person.tenant_id, entra_identity__object_id=person.object_id
    )


def teams_for(person: Person) -> dict[int, str]:
    """team id → the highest role that the person's app roles and groups map to."""
    found: dict[int, str] = {}
    matches = ClaimMapping.objects.filter(
        Q(claim=ClaimMapping.Claim.ROLE, value__in=person.roles)
        | Q(claim=ClaimMapping.Claim.GROUP, value__in=person.groups)
    )
    for mapping in matches:
        if ROLE_RANK[mapping.role] > ROLE_RANK.get(found.get(mapping.team_id, ""), 0):
            found[mapping.team_id] = mapping.role
    return found


def _free_username(upn: str, object_id: str) -> str:
    """The UPN as user name, unless a local account already has it (then UPN~oid)."""
    taken = get_user_model().objects.filter
    name = (upn or object_id).lower()[:150]
    if not taken(username=name).exists():
        return name
    return f"{name[:113]}~{object_id}"


def create_user(person: Person) -> Any:
    """First sign-in: a user without a password (it can only sign in with Microsoft).

    Two first sign-ins of one person at once (two tabs) meet at the unique (tid, oid): the
    second one takes the user the first created.
    """
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(_free_username(person.upn, person.object_id))
            EntraIdentity.objects.create(user=user, tenant_id=person.tenant_id, object_id=person.object_id)
    except IntegrityError:
        user = users_for(person).get()
    return update_user(user, person)


@transaction.atomic
def update_user(user: Any, person: Person) -> Any:
    """Copy name and UPN, then make the memberships exactly what the claims map to."""
    EntraIdentity.objects.filter(user=user).update(
        upn=person.upn,
        display_name=person.display_name,
        roles=list(person.roles),
        groups=list(person.groups),
        last_sign_in_at=timezone.now(),
    )
    wanted = teams_for(person)
    current = {m.team_id: m for m in Membership.objects.select_for_update().filter(user=user)}
    for team_id, membership in current.items():
        if team_id not in wanted:
            membership.delete()
            log.info(
                "sign-in: %s lost %s of team %s (no longer in their Entra claims)",
                person.object_id,
                membership.role,
                team_id,
            )
        elif membership.role != wanted[team_id]:
            log.info(
                "sign-in: %s is now %s of team %s (was %s)", person.object_id, wanted[team_id], team_id, membership.role
            )
            membership.role = wanted[team_id]
            membership.save(update_fields=["role"])
    for team_id, role in wanted.items():
        if team_id not in current:
            Membership.objects.create(user=user, team_id=team_id, role=role)
    user.refresh_from_db()
    return user
