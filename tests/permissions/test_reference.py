"""The shipped permission data answers what Microsoft's raw reference says.

The expected answers are worked out here from the unchanged reference files kept in
``graphpermissions/source`` with a plain, separate reading of them: for GET on a path and a token
kind, the permissions whose path sets grant it (deployed to the public cloud, not hidden), Microsoft's
``least=`` mark first, then the lower privilege level, then read before write, then the name.
"""

from __future__ import annotations

import json
from functools import lru_cache

import pytest

from graphpermissions import APPLICATION, DELEGATED, build, reference
from microsoft import catalogue

SCHEME = {APPLICATION: "Application", DELEGATED: "DelegatedWork"}


@lru_cache(maxsize=1)
def raw() -> tuple[dict, dict]:
    folder = build.SOURCE_FOLDER
    permissions = json.loads((folder / "permissions.json").read_text(encoding="utf-8"))["permissions"]
    deployments = json.loads((folder / "provisioningInfo.json").read_text(encoding="utf-8"))["permissionDeployments"]
    return permissions, deployments


def raw_id(name: str, kind: str) -> str | None:
    for d in raw()[1].get(name, []):
        if (
            d.get("scheme") == SCHEME[kind]
            and "public" in str(d.get("environment", "")).lower().split(";")
            and not d.get("isHidden")
            and d.get("isEnabled") is not False
            and d.get("id")
        ):
            return d["id"].lower()
    return None


def raw_least(template: str, kind: str) -> str | None:
    """The least privileged permission for GET ``template`` (written as Microsoft writes it)."""
    scheme = SCHEME[kind]
    found: dict[str, bool] = {}
    for name, entry in raw()[0].items():
        if entry.get("authorizationType") != "oAuth2" or scheme not in entry.get("schemes", {}):
            continue
        if raw_id(name, kind) is None:
            continue
        for path_set in entry["pathSets"]:
            if "GET" not in path_set["methods"] or scheme not in path_set["schemeKeys"]:
                continue
            for path, marker in path_set["paths"].items():
                if path.lower() == template.lower():
                    found[name] = found.get(name, False) or scheme in marker.removeprefix("least=").split(",")
    if not found:
        return None

    def order(name: str) -> tuple:
        writes = any(w in name.lower() for w in ("write", "manage", "send", "create", "delete"))
        return (not found[name], raw()[0][name]["schemes"][scheme]["privilegeLevel"], writes, name.lower())

    return min(found, key=order)


# (typed path, as someone might enter it; the path as Microsoft's reference writes it)
FREE_PATHS = [
    (
        "sites/contoso.sharepoint.com,2C712604-1370-44E7-A1F5-426573FDA80A,2D2244C3-251A-49EA-93A8-39E1C3A060FE"
        "/lists/Documents/items",
        "/sites/{id}/lists/{id}/items",
    ),
    ("users/jane@contoso.com/calendar/events", "/users/{id}/calendar/events"),
    ("/v1.0/users/{user-id}/messages", "/users/{id}/messages"),
    (
        "https://graph.microsoft.com/v1.0/groups/02bd9fd6-8f93-4758-87c3-1fb73740a315/members?$top=5",
        "/groups/{id}/members",
    ),
    ("applications(appId='46e6adf4-a9cf-4b60-9390-0ba6fb00bf6b')", "/applications(appid={value})"),
    (
        "servicePrincipals(appId='00000003-0000-0000-c000-000000000000')/appRoleAssignedTo",
        "/serviceprincipals(appid={value})/approleassignedto",
    ),
    ("drives/b!abc/items/01ABC/children", "/drives/{id}/items/{id}/children"),
    ("users/:id/contacts", "/users/{id}/contacts"),
    ("me/calendar/events", "/me/calendar/events"),
    ("users/<id>/mailFolders/inbox/messages", "/users/{id}/mailfolders/{id}/messages"),
    ("teams/{team-id}/channels", "/teams/{id}/channels"),
    ("groups/{id}/owners", "/groups/{id}/owners"),
    ("identity/conditionalAccess/policies", "/identity/conditionalaccess/policies"),
    ("security/alerts_v2", "/security/alerts_v2"),
    ("deviceManagement/managedDevices", "/devicemanagement/manageddevices"),
    ("reports/getOffice365ActiveUserDetail(period='D7')", "/reports/getoffice365activeuserdetail(period={value})"),
    ("users/{id}/memberOf", "/users/{id}/memberof"),
    ("policies/authorizationPolicy", "/policies/authorizationpolicy"),
    ("auditLogs/provisioning", "/auditlogs/provisioning"),
    ("servicePrincipals/{id}/appRoleAssignments", "/serviceprincipals/{id}/approleassignments"),
    ("planner/plans/{id}/tasks", "/planner/plans/{id}/tasks"),
    ("chats/{id}/messages", "/chats/{id}/messages"),
    ("users/adele@contoso.com/drive/root/children", "/users/{id}/drive/root/children"),
    ("beta/users/0f8fad5b-d9cb-469f-a165-70867728950e/manager", "/users/{id}/manager"),
    ("USERS/{ID}/EVENTS", "/users/{id}/events"),
    ("groups/microsoft.graph.delta()", "/groups/delta"),
]


def _raw_template(template: str) -> str:
    """The template's exact spelling in the raw files (their case is not normalised)."""
    for entry in raw()[0].values():
        for path_set in entry["pathSets"]:
            for path in path_set["paths"]:
                if path.lower() == template.lower():
                    return path
    raise AssertionError(f"{template} is not in Microsoft's reference")


@pytest.mark.parametrize("typed, template", FREE_PATHS, ids=[t for t, _ in FREE_PATHS])
@pytest.mark.parametrize("kind", [APPLICATION, DELEGATED])
def test_free_paths_get_microsofts_least_privileged_permission(typed, template, kind):
    _raw_template(template)

    assert reference().least([typed], kind) == raw_least(template, kind)


def test_the_free_path_table_is_long_enough_and_all_answered():
    assert len(FREE_PATHS) >= 20
    assert all(
        reference().least([typed], APPLICATION) or reference().least([typed], DELEGATED) for typed, _ in FREE_PATHS
    )


@pytest.mark.parametrize("entity", catalogue.ENTITIES, ids=lambda e: e.path)
def test_every_catalogue_entity_needs_what_the_raw_reference_grants(entity):
    """Each listed entity: per path it reads, the rule's least permission grants it in the raw
    reference; with one path (no delta), it is exactly Microsoft's least privileged one."""
    templates = ["/" + p for p in entity.read_paths]
    for kind, rule in ((APPLICATION, entity.application), (DELEGATED, entity.delegated)):
        if not rule.possible:
            assert kind == APPLICATION and entity.path.startswith("me/")
            continue
        if len(templates) == 1:
            assert rule.least == (raw_least(templates[0], kind),), (entity.path, kind)
        for template in templates:
            assert raw_least(template, kind) is not None
            assert raw_grants(template, kind, rule.least[0]), (template, kind, rule.least)


def raw_grants(template: str, kind: str, name: str) -> bool:
    scheme = SCHEME[kind]
    entry = raw()[0][name]
    return any(
        "GET" in ps["methods"]
        and scheme in ps["schemeKeys"]
        and any(p.lower() == template.lower() for p in ps["paths"])
        for ps in entry["pathSets"]
    )


def test_users_and_groups_follow_microsofts_marks_including_delta():
    """Microsoft marks User.ReadBasic.All least for /users, but /users/delta (used by syncs) needs User.Read.All."""
    assert raw_least("/users", APPLICATION) == "User.ReadBasic.All"
    assert raw_least("/users/delta", APPLICATION) == "User.Read.All"
    assert catalogue.lookup("users").application.least == ("User.Read.All",)
    assert raw_least("/groups", APPLICATION) == raw_least("/groups/delta", APPLICATION) == "Group.ReadBasic.All"
    assert catalogue.lookup("groups").application.least == ("Group.ReadBasic.All",)


@pytest.mark.parametrize(
    "name, kind",
    [
        ("User.Read.All", APPLICATION),
        ("User.Read.All", DELEGATED),
        ("Group.ReadBasic.All", APPLICATION),
        ("GroupMember.Read.All", APPLICATION),
        ("AuditLog.Read.All", APPLICATION),
        ("Sites.Read.All", APPLICATION),
        ("Mail.ReadBasic", DELEGATED),
        ("Domain.Read.All", APPLICATION),
        ("Directory.ReadWrite.All", APPLICATION),
    ],
)
def test_ids_are_the_raw_references(name, kind):
    assert reference().id_of(name, kind) == raw_id(name, kind)
    assert reference().name_of_id(raw_id(name, kind).upper(), kind) == name
    assert reference().permission(name, kind).manifest_type == ("Role" if kind == APPLICATION else "Scope")


def test_the_shipped_file_is_what_the_build_derives_from_the_source():
    """Stale data fails here: rebuild with ``manage.py build_permission_data``."""
    from graphpermissions.reference import DATA_FILE

    assert DATA_FILE.read_text(encoding="utf-8") == build.serialise(build.derive_folder())


def test_paths_without_a_permission_in_the_reference_are_unknown():
    assert reference().match("contoso/custom/things") is None
    assert reference().least(["contoso/custom/things"], APPLICATION) is None
    assert reference().least([], APPLICATION) is None
