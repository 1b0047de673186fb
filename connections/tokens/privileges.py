"""What a connection's app needs (the planner for its entities) against what its token carries.

The app's grants serve every connection of the team that uses the same app in the same tenant,
so the plan covers all of their entities: a permission another of those connections needs is
never called removable.
"""

from __future__ import annotations

from dataclasses import dataclass

from connections.models import Connection
from microsoft import planner


def sibling_entities(connection: Connection) -> list[str]:
    """The entities of every connection of the team with this connection's app and tenant."""
    others = (
        Connection.objects.filter(team_id=connection.team_id, client_id=connection.client_id, tenant=connection.tenant)
        .exclude(pk=connection.pk)
        .order_by("name")
        .values_list("entity", flat=True)
    )
    return list(dict.fromkeys([connection.entity, *others]))


def token_kind(connection: Connection) -> str:
    return "delegated" if connection.is_delegated else "app"


def plan_for(connection: Connection, entities: list[str] | None = None, kind: str | None = None) -> planner.Plan:
    """The plan for ``entities`` (default: those of the connections sharing the app) read with a
    ``kind`` token (default: the connection's), under the connection's ``$select``."""
    return planner.plan(
        entities if entities is not None else sibling_entities(connection),
        kind or token_kind(connection),
        connection.odata_select,
    )


@dataclass(frozen=True)
class OverPrivilege:
    """Roles an application token carries beyond what the app's connections read. Never a blocker."""

    unneeded: list[str]
    replaceable: list[tuple[str, str]]  # (held, the least privileged permission that would do)

    @property
    def any(self) -> bool:
        return bool(self.unneeded or self.replaceable)


def over_privilege(connection: Connection, permissions: list[str] | None) -> OverPrivilege | None:
    """For application tokens only: delegated scopes follow what the signed-in user consented to."""
    if connection.is_delegated or not permissions:
        return None
    plan = plan_for(connection)
    if plan.unknown or not plan.needs:
        return None  # a path the reference does not know: no claim about what it needs
    unneeded, replaceable = planner.removable(permissions, plan)
    found = OverPrivilege(unneeded, replaceable)
    return found if found.any else None
