"""The least-privileged permission table the front door enforces (in line with Microsoft's reference)."""

from __future__ import annotations

import pytest

from graphsandbox.permissions import APP_ROLE_IDS, APP_ROLE_NAMES, app_role_id, required, satisfied


@pytest.mark.parametrize(
    "path,least_app,least_delegated",
    [
        ("/users", "User.ReadBasic.All", "User.ReadBasic.All"),
        ("/users/adele@contoso.test", "User.ReadBasic.All", "User.ReadBasic.All"),
        ("/users/delta", "User.Read.All", "User.Read.All"),
        ("/users/$count", "User.ReadBasic.All", "User.ReadBasic.All"),
        ("/groups", "Group.ReadBasic.All", "Group.ReadBasic.All"),
        ("/groups/abc/members", "GroupMember.ReadBasic.All", "GroupMember.ReadBasic.All"),
        ("/devices", "Device.Read.All", "Device.Read.All"),
        ("/applications(appId='x')", "Application.Read.All", "Application.Read.All"),
        ("/servicePrincipals", "Application.Read.All", "Application.Read.All"),
        ("/directoryRoles", "RoleManagement.Read.Directory", "RoleManagement.Read.Directory"),
        ("/organization", "DeviceManagementServiceConfig.Read.All", "DeviceManagementServiceConfig.Read.All"),
        ("/domains", "Domain.Read.All", "Domain.Read.All"),
        ("/subscribedSkus", "LicenseAssignment.Read.All", "LicenseAssignment.Read.All"),
        ("/users/abc/messages", "Mail.ReadBasic.All", "Mail.ReadBasic"),
        ("/me", None, "User.Read"),
        ("/me/messages", None, "Mail.ReadBasic"),
    ],
)
def test_least_privileged_permission_per_path(path, least_app, least_delegated):
    req = required(path)
    assert req is not None
    assert req.least_application == least_app
    assert req.least_delegated == least_delegated


def test_higher_privileged_permissions_are_accepted():
    groups = required("/groups")
    assert satisfied(groups, {"Group.Read.All"}, set())
    assert satisfied(groups, {"Directory.Read.All"}, set())
    assert not satisfied(groups, {"User.Read.All"}, set())
    assert satisfied(required("/users"), set(), {"Directory.Read.All"})
    assert not satisfied(required("/me"), {"User.Read.All"}, set())


def test_denials_use_the_code_of_the_workload():
    assert (required("/users").denied_code, required("/users").denied_message) == (
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
    mail = required("/users/abc/messages")
    assert (mail.denied_code, mail.denied_message) == (
        "ErrorAccessDenied",
        "Access is denied. Check credentials and try again.",
    )


def test_directory_audits_need_either_audit_or_directory_read():
    req = required("/auditLogs/directoryAudits")
    assert satisfied(req, {"AuditLog.Read.All"}, set())
    assert satisfied(req, {"Directory.Read.All"}, set())
    assert not satisfied(req, {"User.Read.All"}, set())


def test_assignments_path_and_unknown_paths():
    assert required("/servicePrincipals(appId='x')/appRoleAssignments").entity == "appRoleAssignments"
    assert required("/nothing/here") is None


def test_app_role_ids_are_graphs_and_reversible():
    assert APP_ROLE_IDS["User.Read.All"] == "df021288-bdef-4463-88db-98f22de89214"
    assert APP_ROLE_IDS["GroupMember.Read.All"] == "98830695-27a2-44f7-8c18-0c3ebc9698f6"
    assert APP_ROLE_IDS["Domain.Read.All"] == "dbb9058a-0e50-45d7-ae91-66909b5d4664"
    assert app_role_id("Made.Up.Permission") == app_role_id("Made.Up.Permission")  # not Graph's: a stable uuid5
    assert all(APP_ROLE_NAMES[v] == k for k, v in APP_ROLE_IDS.items())
