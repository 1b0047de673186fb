"""Entity reads through GraphApi: paging, keys, 404s, members, apps, mailboxes, fixed collections."""

from __future__ import annotations

import pytest

from graphsandbox.graph import Caller
from tests.sandbox.graph_requests import BASE, TENANT, all_pages, api_for, call, directory, error, ok

APP_ID = "4a1f0c9e-2b3d-4e5f-8a6b-7c8d9e0f1a2b"
SP_ID = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
APPS = [
    {
        "id": "6e7f8a9b-0c1d-4e2f-8a3b-4c5d6e7f8a9b",
        "appId": APP_ID,
        "displayName": "Payroll sync",
        "signInAudience": "AzureADMyOrg",
        "passwordCredentials": [],
        "_secrets": ["never shown"],
    }
]
SPS = [
    {
        "id": SP_ID,
        "appId": APP_ID,
        "displayName": "Payroll sync",
        "servicePrincipalType": "Application",
        "_appRoleAssignments": [
            {
                "id": "a1",
                "appRoleId": "df021288-bdef-4463-88db-98f22de89214",
                "principalId": SP_ID,
                "principalType": "ServicePrincipal",
                "resourceId": "9d0c1b2a-0000-4000-8000-000000000001",
                "resourceDisplayName": "Microsoft Graph",
                "_grantedAt": 1,
            }
        ],
    }
]


@pytest.fixture(scope="module")
def d():
    return directory(users=250, groups=30, devices=40)


@pytest.fixture(scope="module")
def api(d):
    return api_for(d, APPS, SPS)


def test_paging_through_all_users_returns_each_exactly_once(api, d):
    items, pages = all_pages(api, "/v1.0/users")
    assert len(items) == 250 == d.stats()["users"]
    assert len({u["id"] for u in items}) == 250
    assert [len(p["value"]) for p in pages] == [100, 100, 50]
    assert "@odata.nextLink" not in pages[-1]


def test_get_user_by_id_and_by_upn(api, d):
    user = d.sample_users(3)[2]
    for key in (user["id"], user["userPrincipalName"]):
        body = ok(api, f"/v1.0/users/{key}")
        assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#users/$entity"
        assert body["id"] == user["id"] and body["displayName"] == user["displayName"]
    body = ok(api, f"/v1.0/users/{user['id']}?$select=department")
    assert body == {
        "@odata.context": f"{BASE}/v1.0/$metadata#users(department)/$entity",
        "department": user["department"],
    }


def test_unknown_key_is_graphs_404(api):
    assert error(api, "/v1.0/users/ghost@contoso.test") == (
        404,
        "Request_ResourceNotFound",
        "Resource 'ghost@contoso.test' does not exist or one of its queried reference-property objects are not present.",
    )
    assert error(api, "/v1.0/groups/6e7f8a9b-0000-4000-8000-000000000000")[:2] == (404, "Request_ResourceNotFound")


def test_unknown_segment_is_a_bad_request(api, d):
    assert error(api, "/v1.0/foo") == (400, "BadRequest", "Resource not found for the segment 'foo'.")
    user_id = d.sample_users(1)[0]["id"]
    assert error(api, f"/v1.0/users/{user_id}/bar") == (400, "BadRequest", "Resource not found for the segment 'bar'.")


def test_writes_are_not_served(api):
    resp = call(api, "/v1.0/users", method="POST")
    assert resp.status == 405 and resp.body["error"]["code"] == "Request_BadRequest"


def test_group_members_are_typed_directory_objects(api, d):
    group = d.view("groups").at(4)
    items, pages = all_pages(api, f"/v1.0/groups/{group['id']}/members?$top=5")
    assert pages[0]["@odata.context"] == f"{BASE}/v1.0/$metadata#directoryObjects"
    assert [m["id"] for m in items] == d.group_member_ids(group["id"])
    assert all(m["@odata.type"] == "#microsoft.graph.user" for m in items)


def test_groups_and_devices_list(api):
    groups, _ = all_pages(api, "/v1.0/groups?$select=displayName,mailEnabled,securityEnabled,groupTypes")
    assert len(groups) == 30 and {"Unified"} & {t for g in groups for t in g["groupTypes"]}
    devices, _ = all_pages(api, "/v1.0/devices")
    assert len(devices) == 40 and {"deviceId", "operatingSystem", "trustType"} <= set(devices[0])


def test_fixed_collections(api):
    org = ok(api, "/v1.0/organization")["value"]
    assert org[0]["id"] == TENANT and any(v["isDefault"] for v in org[0]["verifiedDomains"])
    assert ok(api, f"/v1.0/organization/{TENANT}")["id"] == TENANT
    domains = ok(api, "/v1.0/domains")["value"]
    assert {(x["id"], x["isDefault"], x["isInitial"]) for x in domains} == {
        ("contoso.test", True, False),
        ("contoso.onmicrosoft.com", False, True),
    }
    skus = ok(api, "/v1.0/subscribedSkus")["value"]
    assert "ENTERPRISEPACK" in {s["skuPartNumber"] for s in skus}
    roles = ok(api, "/v1.0/directoryRoles")["value"]
    assert "Global Administrator" in {r["displayName"] for r in roles}


def test_applications_and_service_principals_come_from_the_registry(api):
    apps = ok(api, "/v1.0/applications")["value"]
    assert apps[0]["appId"] == APP_ID and "_secrets" not in apps[0]
    app = ok(api, f"/v1.0/applications(appId='{APP_ID}')")
    assert (
        app["@odata.context"] == f"{BASE}/v1.0/$metadata#applications/$entity" and app["displayName"] == "Payroll sync"
    )
    assert ok(api, f"/v1.0/servicePrincipals(appId='{APP_ID}')")["id"] == SP_ID
    assignments = ok(api, f"/v1.0/servicePrincipals(appId='{APP_ID}')/appRoleAssignments")
    assert assignments["@odata.context"] == f"{BASE}/v1.0/$metadata#servicePrincipals('{SP_ID}')/appRoleAssignments"
    assert [a["appRoleId"] for a in assignments["value"]] == ["df021288-bdef-4463-88db-98f22de89214"]
    assert "_grantedAt" not in assignments["value"][0]
    assert ok(api, f"/v1.0/servicePrincipals/{SP_ID}/appRoleAssignments")["value"][0]["id"] == "a1"
    assert error(api, "/v1.0/applications(appId='00000000-0000-0000-0000-000000000000')")[0] == 404


def test_me_and_mailboxes_for_a_delegated_caller(api, d):
    user = d.sample_users(5)[4]
    me = Caller(app_id=APP_ID, roles=frozenset(), scopes=frozenset({"User.Read", "Mail.Read"}), user_id=user["id"])
    body = ok(api, "/v1.0/me", caller=me)
    assert body["userPrincipalName"] == user["userPrincipalName"]
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#users/$entity"
    mine = ok(api, "/v1.0/me/messages", caller=me)
    assert mine["@odata.context"] == f"{BASE}/v1.0/$metadata#users('{user['id']}')/messages"
    assert 3 <= len(mine["value"]) <= 7 and mine["value"][0]["@odata.etag"].startswith('W/"')
    assert mine == ok(api, f"/v1.0/users/{user['id']}/messages")
    message = mine["value"][0]
    one = ok(api, f"/v1.0/me/messages/{message['id']}?$select=subject", caller=me)
    assert one["subject"] == message["subject"]
    assert error(api, "/v1.0/me")[:2] == (400, "BadRequest")  # app-only token


def test_beta_uses_its_own_context(api):
    assert ok(api, "/beta/users?$top=1")["@odata.context"] == f"{BASE}/beta/$metadata#users"
