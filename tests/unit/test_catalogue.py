"""The entity catalogue: lookups of listed and free paths, permissions, app role ids."""

from __future__ import annotations

import pytest

from microsoft import catalogue
from microsoft.catalogue import APP_ROLE_IDS, LISTED, granted_permissions, lookup, permission_name

LOOKUPS = [
    ("users", "users"),
    ("/v1.0/users", "users"),
    ("https://graph.microsoft.com/beta/Users?$select=id", "users"),
    ("users/delta", "users"),
    ("users/8a5e1b7c-0000-4000-8000-000000000001", "users"),
    ("groups/abc/members", "groups/{id}/members"),
    ("users/adele@contoso.com/messages", "users/{id}/messages"),
    ("me/messages", "me/messages"),
    ("auditLogs/signIns", "auditLogs/signIns"),
    ("auditlogs/directoryaudits", "auditLogs/directoryAudits"),
    ("servicePrincipals", "servicePrincipals"),
    ("sites", "sites"),
]


@pytest.mark.parametrize("path, template", LOOKUPS)
def test_lookup_finds_listed_and_free_paths(path, template):
    entity = lookup(path)

    assert entity is not None and entity.path == template


@pytest.mark.parametrize("path", ["", "/", "usrs", "groups/abc/owners", "teams/abc/channels", "v1.0"])
def test_lookup_returns_none_for_unknown_paths(path):
    assert lookup(path) is None


def test_the_picker_lists_the_documented_entities_and_not_the_free_path_templates():
    listed = {e.path for e in LISTED}

    assert listed == {
        "users",
        "groups",
        "devices",
        "applications",
        "servicePrincipals",
        "directoryRoles",
        "organization",
        "domains",
        "subscribedSkus",
        "auditLogs/signIns",
        "auditLogs/directoryAudits",
        "me/messages",
        "sites",
    }


def test_the_least_privileged_permissions_are_microsofts():
    """Checked in full against the raw reference in tests/permissions; here the ones people meet."""
    least = {e.path: e.application.least for e in catalogue.ENTITIES}

    assert least["users"] == ("User.Read.All",)  # users/delta is not granted by User.ReadBasic.All
    assert least["groups"] == ("Group.ReadBasic.All",)  # Microsoft's mark for /groups and /groups/delta
    assert least["devices"] == ("Device.Read.All",)
    assert least["servicePrincipals"] == ("Application.Read.All",)
    assert least["directoryRoles"] == ("RoleManagement.Read.Directory",)
    assert least["auditLogs/directoryAudits"] == ("AuditLog.Read.All",)
    assert least["users/{id}/messages"] == ("Mail.ReadBasic.All",)
    assert least["me/messages"] == ()
    assert lookup("users").delegated.least == ("User.Read.All",)
    assert lookup("me/messages").delegated.least == ("Mail.ReadBasic",)


def test_any_accepted_permission_satisfies_a_rule():
    rule = lookup("groups").application

    assert rule.satisfied_by({"Directory.Read.All"})
    assert rule.satisfied_by({"group.read.all"})  # permission names compare case-insensitively
    assert rule.satisfied_by({"GroupMember.Read.All"})
    assert not rule.satisfied_by({"User.Read.All"})
    assert rule.missing({"User.Read.All"}) == ("Group.ReadBasic.All",)
    assert rule.missing({"Group.Read.All"}) == ()


def test_a_select_beyond_basic_properties_needs_the_fuller_permission():
    groups = lookup("groups")

    assert groups.rule("app", "id,displayName").least == ("Group.ReadBasic.All",)
    fuller = groups.rule("app", "id,displayName,createdDateTime")
    assert fuller.least == ("Group.Read.All",)
    assert "Group.ReadBasic.All" not in fuller.accepted
    assert "returns only basic properties" in fuller.note and "createddatetime" in fuller.note


def test_free_paths_resolve_from_the_reference():
    entity = catalogue.resolve("sites/contoso.sharepoint.com,1,2/lists/Documents/items")

    assert entity is not None and not entity.listed
    assert entity.application.least == ("Sites.Read.All",)
    assert catalogue.resolve("teams/abc/nonsense") is None
    assert catalogue.resolve("users") is lookup("users")


def test_me_cannot_be_read_with_an_application_permission():
    entity = lookup("me/messages")

    assert not entity.application.possible
    assert not entity.application.satisfied_by(APP_ROLE_IDS)
    assert entity.delegated.satisfied_by({"Mail.Read"})


def test_paging_delta_and_item_urls():
    assert lookup("users").delta and lookup("groups").delta
    assert not lookup("devices").delta
    assert lookup("users").max_top == 999
    assert lookup("directoryRoles").max_top is None
    assert lookup("users").key == "id"
    assert lookup("users").item_url == "{entity}/{key}"
    assert dict(lookup("sites").params) == {"search": "*"}


def test_app_role_ids_map_both_ways():
    assert APP_ROLE_IDS["User.Read.All"] == "df021288-bdef-4463-88db-98f22de89214"
    assert APP_ROLE_IDS["GroupMember.Read.All"] == "98830695-27a2-44f7-8c18-0c3ebc9698f6"
    assert permission_name("DF021288-BDEF-4463-88DB-98F22DE89214") == "User.Read.All"
    assert permission_name("00000000-0000-0000-0000-000000000000") is None
    assert permission_name("not a guid") is None
    assert len(set(APP_ROLE_IDS.values())) == len(APP_ROLE_IDS)


def test_granted_permissions_reads_app_role_assignments():
    assignments = [
        {"appRoleId": "df021288-bdef-4463-88db-98f22de89214", "resourceDisplayName": "Microsoft Graph"},
        {"appRoleId": "7ab1d382-f21e-4acd-a863-ba3e13f7da61"},
        {"appRoleId": "11111111-2222-3333-4444-555555555555", "resourceDisplayName": "Other API"},
        {},
    ]

    assert granted_permissions(assignments) == {"User.Read.All", "Directory.Read.All"}


def test_every_accepted_permission_has_an_id_and_is_spelled_like_the_id_table():
    known = {name.casefold(): name for name in APP_ROLE_IDS}
    for entity in catalogue.ENTITIES:
        for name in entity.application.accepted:
            assert known[name.casefold()] == name
