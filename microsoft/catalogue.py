"""The Graph entities the dashboard can read, and the permissions each one needs.

One table drives the entity picker, the sync engine (delta support, page size, item URLs) and the
403 diagnostics (which permission is missing). The permissions are not written here: they come
from Microsoft Graph's own permission reference shipped in ``graphpermissions`` (which permission
grants ``GET`` on which path, Microsoft's least-privileged marks, the ids). An entity needs what
grants every read the dashboard makes of it: the collection, and its ``/delta`` when syncs use
delta queries (for users that makes User.Read.All the least privileged permission, because
Microsoft marks User.ReadBasic.All least for ``/users`` but it does not grant ``/users/delta``).
Any other path Microsoft's reference knows (``sites/{id}/lists/{id}/items``,
``users/jane@contoso.com/calendar/events``) is diagnosed from the same data (``resolve``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from graphpermissions import APPLICATION, DELEGATED, reference
from graphpermissions.reference import bare_path, is_write
from microsoft.clouds import is_guid

# Properties a *.ReadBasic.* permission returns. For users Microsoft lists the basic profile:
# displayName, givenName, mail, photo, surname and userPrincipalName (plus id; its reference also
# names the security identifier), https://learn.microsoft.com/graph/permissions-reference#userreadbasicall.
# For groups it only says "basic group properties", so that list is our guess.
BASIC_PROPERTIES: dict[str, frozenset[str]] = {
    "User.ReadBasic.All": frozenset(
        {"id", "displayName", "givenName", "surname", "mail", "userPrincipalName", "securityIdentifier"}
    ),
    "Group.ReadBasic.All": frozenset(
        {"id", "displayName", "description", "mail", "mailNickname", "mailEnabled", "securityEnabled", "groupTypes"}
    ),
}
SHORT_ALTERNATIVES = 4  # how many other accepted permissions a sentence names


@dataclass(frozen=True)
class PermissionRule:
    """What one kind of token (application or delegated) must carry to read an entity.

    ``least`` holds the least privileged permission (empty: this kind of token can never read
    it); ``higher`` the others that also grant the read, least privileged first. Any one is
    enough. ``note`` says why the choice differs from Microsoft's mark, when it does.
    """

    least: tuple[str, ...] = ()
    higher: tuple[str, ...] = ()
    note: str = ""

    @property
    def accepted(self) -> tuple[str, ...]:
        return self.least + self.higher

    @property
    def alternatives(self) -> tuple[str, ...]:
        """A few of ``higher`` worth naming in a sentence: the same family or Directory first."""
        family = self.least[0].split(".")[0] if self.least else ""
        near = [p for p in self.higher if p.split(".")[0] in (family, "Directory")]
        rest = [p for p in self.higher if p not in near]
        return tuple((near + rest)[:SHORT_ALTERNATIVES])

    @property
    def possible(self) -> bool:
        """False when this kind of token can never read the entity (e.g. ``me/…`` with an app token)."""
        return bool(self.least)

    def satisfied_by(self, permissions: Iterable[str]) -> bool:
        have = _casefold_set(permissions)
        return self.possible and any(p.casefold() in have for p in self.accepted)

    def missing(self, permissions: Iterable[str]) -> tuple[str, ...]:
        """The permission to add, least privileged first; empty when already satisfied."""
        return () if self.satisfied_by(permissions) else self.least[:1]

    def present(self, permissions: Iterable[str]) -> tuple[str, ...]:
        """Which of the accepted permissions are among ``permissions`` (Microsoft's spelling)."""
        have = _casefold_set(permissions)
        return tuple(p for p in self.accepted if p.casefold() in have)


def _rule_for(paths: tuple[str, ...], kind: str) -> PermissionRule:
    granting = reference().granting(paths, kind)
    return PermissionRule(granting[:1], granting[1:])


def _is_signed_in_only(path: str) -> bool:
    """``/me/…`` needs a signed-in user: Graph answers 400 to an app-only token
    ("/me request is only valid with delegated authentication flow")."""
    parts = path_segments(path)
    return bool(parts) and parts[0].casefold() == "me"


@dataclass(frozen=True)
class Entity:
    """A readable Graph collection. ``path`` may hold ``{id}`` segments for free paths."""

    path: str
    display_name: str
    delta: bool = False
    max_top: int | None = 999  # None: the collection does not page
    key: str = "id"
    item_url: str = "{entity}/{key}"
    listed: bool = True  # offered in the entity picker; free-path templates are not
    params: tuple[tuple[str, str], ...] = ()  # query parameters the collection requires
    reads: tuple[str, ...] = field(default=(), compare=False)  # the paths read; default: path (+ /delta)

    @property
    def read_paths(self) -> tuple[str, ...]:
        return self.reads or ((self.path, f"{self.path}/delta") if self.delta else (self.path,))

    @cached_property
    def application(self) -> PermissionRule:
        if _is_signed_in_only(self.path):
            return PermissionRule()
        return _rule_for(self.read_paths, APPLICATION)

    @cached_property
    def delegated(self) -> PermissionRule:
        return _rule_for(self.read_paths, DELEGATED)

    def rule(self, token_kind: str, select: str = "") -> PermissionRule:
        """The rule for an ``"app"`` or ``"delegated"`` token; a ``$select`` of more than a
        basic permission returns moves the choice to the next permission that returns them."""
        rule = self.application if token_kind == "app" else self.delegated
        return _with_select(rule, select)


def _with_select(rule: PermissionRule, select: str) -> PermissionRule:
    if not rule.least or rule.least[0] not in BASIC_PROPERTIES or not select.strip():
        return rule
    wanted = {p.strip().casefold() for p in select.split(",") if p.strip()}
    beyond = sorted(wanted - {p.casefold() for p in BASIC_PROPERTIES[rule.least[0]]})
    if not beyond:
        return rule
    basic = rule.least[0]
    family = basic.split(".")[0]
    reads = [p for p in rule.higher if "basic" not in p.casefold() and not is_write(p)]
    first = next((p for p in reads if p.split(".")[0] == family), reads[0] if reads else None)
    if first is None:
        return rule
    fuller = (first,) + tuple(p for p in rule.higher if p != first and "basic" not in p.casefold())
    note = (
        f"Microsoft marks {basic} as the least privileged permission for this read, but it "
        f"returns only basic properties, and the connection's $select asks for "
        f"{', '.join(beyond)}; so {fuller[0]} is the one to add."
    )
    return PermissionRule(fuller[:1], fuller[1:], note)


ENTITIES: tuple[Entity, ...] = (
    Entity("users", "Users", delta=True),
    Entity("groups", "Groups", delta=True),
    Entity("groups/{id}/members", "Group members", listed=False),
    Entity("devices", "Devices"),
    Entity("applications", "App registrations"),
    Entity("servicePrincipals", "Enterprise applications (service principals)"),
    Entity("directoryRoles", "Directory roles", max_top=None),
    Entity("organization", "Organization", max_top=None),
    Entity("domains", "Domains", max_top=None),
    Entity("subscribedSkus", "Licences (subscribed SKUs)", max_top=None),
    Entity("auditLogs/signIns", "Sign-in logs", max_top=1000),
    Entity("auditLogs/directoryAudits", "Directory audit logs", max_top=1000),
    Entity("users/{id}/messages", "A user's mail messages", listed=False, max_top=1000),
    Entity("me/messages", "My mail messages (signed-in user)", max_top=1000),
    # Listing sites is a search: GET /sites?search=*
    Entity("sites", "SharePoint sites", params=(("search", "*"),)),
)

LISTED: tuple[Entity, ...] = tuple(e for e in ENTITIES if e.listed)

_VERSION_PREFIXES = ("v1.0", "beta")
_DELTA_SEGMENTS = ("delta", "microsoft.graph.delta")


def _casefold_set(items: Iterable[str]) -> set[str]:
    return {i.casefold() for i in items}


def path_segments(entity_path: str) -> list[str]:
    """Path segments of a Graph path or URL, without the API version, query or ``delta``."""
    parts = [p for p in bare_path(entity_path).split("/") if p]
    if parts and parts[0].casefold() in _VERSION_PREFIXES:
        parts = parts[1:]
    if parts and parts[-1].casefold() in _DELTA_SEGMENTS:
        parts = parts[:-1]
    return parts


def _matches(template: list[str], parts: list[str]) -> bool:
    return len(template) == len(parts) and all(
        t == "{id}" or t.casefold() == p.casefold() for t, p in zip(template, parts, strict=True)
    )


_TEMPLATES = [(e.path.split("/"), e) for e in ENTITIES]


def resolve(entity_path: str) -> Entity | None:
    """``lookup``, or for any other path Microsoft's reference knows, an unlisted entity whose
    permissions come from the reference (free paths such as ``sites/{id}/lists/{id}/items``)."""
    found = lookup(entity_path)
    if found is not None or not path_segments(entity_path):
        return found
    if reference().match(entity_path) is None:
        return None
    path = "/".join(path_segments(entity_path))
    return Entity(path, path, listed=False, max_top=None, reads=(bare_path(entity_path),))


def lookup(entity_path: str) -> Entity | None:
    """The catalogue entry for a path such as ``users``, ``/v1.0/groups/abc/members``, ``users/x``.

    A path one segment longer than a collection is read as one item of it (``users/{id}``), so the
    "read one item" check and the sync share the same permissions.
    """
    parts = path_segments(entity_path)
    if not parts:
        return None
    for template, entity in _TEMPLATES:
        if _matches(template, parts):
            return entity
    for template, entity in _TEMPLATES:
        if _matches(template + ["{id}"], parts):
            return entity
    return None


# Microsoft Graph's permission ids (app role ids for application permissions, oauth2PermissionScope
# ids for delegated ones), from the same reference.
APP_ROLE_IDS: dict[str, str] = {n: reference().id_of(n, APPLICATION) or "" for n in reference().names(APPLICATION)}
APP_ROLE_NAMES: dict[str, str] = {guid: name for name, guid in APP_ROLE_IDS.items()}
DELEGATED_SCOPE_IDS: dict[str, str] = {n: reference().id_of(n, DELEGATED) or "" for n in reference().names(DELEGATED)}


def permission_name(app_role_id: str) -> str | None:
    """The permission name of a Graph appRoleAssignment's ``appRoleId``, or None if unknown."""
    if not is_guid(app_role_id):
        return None
    return reference().name_of_id(app_role_id, APPLICATION)


def granted_permissions(app_role_assignments: Iterable[dict]) -> frozenset[str]:
    """Names of the Graph app roles in a list of appRoleAssignment objects.

    Assignments carry the resource's object id, not its app id, so Graph's roles are recognised by
    their (globally unique) role ids; roles of other APIs are skipped.
    """
    names = (permission_name(str(a.get("appRoleId", ""))) for a in app_role_assignments)
    return frozenset(n for n in names if n)
