"""The control API and the portal page: apps, grants, secrets, directory changes, settings, reset."""

from __future__ import annotations

import datetime as dt
import re

import jwt
import pytest
import requests

from graphsandbox.testing import RunningSandbox

# Every test starts from the sandbox's start state (tests in this file change grants and settings).
pytestmark = pytest.mark.usefixtures("clean_sandbox")


def roles_of(token: str) -> list[str]:
    return jwt.decode(token, options={"verify_signature": False}).get("roles", [])


def test_state_lists_tenant_apps_directory_and_never_secret_values(sandbox: RunningSandbox) -> None:
    state = sandbox.control.get("state")
    assert state["tenants"] == [
        {
            "tenant_id": sandbox.tenant_id,
            "domain": sandbox.tenant_domain,
            "display_name": state["tenants"][0]["display_name"],
        }
    ]
    demo = next(a for a in state["apps"] if a["client_id"] == sandbox.client_id)
    assert demo["display_name"] == "graphconn demo"
    assert demo["granted_roles"] == ["User.Read.All"]
    assert {"User.Read", "Mail.Read", "offline_access", "openid", "profile"} == set(demo["scopes"])
    assert "http://127.0.0.1:8000/connections/oauth/callback" in demo["redirect_uris"]
    assert demo["secrets"][0]["hint"] == sandbox.client_secret[:3] and not demo["secrets"][0]["expired"]
    assert state["directory"]["users"] == 250
    assert (
        sandbox.client_secret
        not in requests.get(sandbox.base_url + "/_sandbox/state", verify=sandbox.ca_path, timeout=30).text
    )


def test_created_app_gets_tokens_with_its_granted_roles(clean_sandbox: RunningSandbox) -> None:
    created = clean_sandbox.control.post(
        "apps", {"display_name": "reader", "roles": ["Group.Read.All"], "redirect_uris": ["http://localhost:9000/cb"]}
    )
    assert created["tenant_id"] == clean_sandbox.tenant_id
    assert len(created["client_secret"]) == 40 and created["secret_id"]
    assert roles_of(clean_sandbox.token(created["client_id"], created["client_secret"])) == ["Group.Read.All"]
    ungranted = clean_sandbox.control.post("apps", {"roles": ["Group.Read.All"], "grant": False})
    assert roles_of(clean_sandbox.token(ungranted["client_id"], ungranted["client_secret"])) == []
    assert "Group.Read.All" in clean_sandbox.control.get(f"apps/{ungranted['client_id']}")["requested_roles"]


def test_new_secret_works_and_an_expired_one_is_refused(clean_sandbox: RunningSandbox) -> None:
    sb = clean_sandbox
    fresh = sb.control.post(
        f"apps/{sb.client_id}/secrets",
        {"expires": (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)).isoformat()},
    )
    assert fresh["end_date_time"].endswith("Z") and fresh["secret_id"]
    assert sb.token(sb.client_id, fresh["client_secret"])
    assert sb.token()  # the old secret still works too
    expired = sb.control.post(f"apps/{sb.client_id}/secrets", {"expires": "2020-01-01T00:00:00Z"})
    answer = sb.token_call(
        grant_type="client_credentials",
        client_id=sb.client_id,
        client_secret=expired["client_secret"],
        scope="https://graph.microsoft.com/.default",
    )
    assert answer.status_code == 401 and answer.json()["error_codes"] == [7000222]


def test_deleted_app_is_unknown(clean_sandbox: RunningSandbox) -> None:
    created = clean_sandbox.control.post("apps", {"display_name": "gone"})
    clean_sandbox.control.delete(f"apps/{created['client_id']}")
    answer = clean_sandbox.token_call(
        grant_type="client_credentials",
        client_id=created["client_id"],
        client_secret=created["client_secret"],
        scope="https://graph.microsoft.com/.default",
    )
    assert answer.json()["error_codes"] == [700016]


def test_app_registrations_are_visible_through_graph(clean_sandbox: RunningSandbox) -> None:
    sb = clean_sandbox
    sb.control.post(f"apps/{sb.client_id}/grants", {"roles": ["Application.Read.All"]})
    headers = {"Authorization": f"Bearer {sb.token()}"}
    http = sb.session()
    app = http.get(f"{sb.graph_url}/applications(appId='{sb.client_id}')", headers=headers, timeout=30).json()
    assert app["appId"] == sb.client_id
    assert app["passwordCredentials"][0]["hint"] == sb.client_secret[:3]
    assert sb.client_secret not in str(app)
    assignments = http.get(
        f"{sb.graph_url}/servicePrincipals(appId='{sb.client_id}')/appRoleAssignments", headers=headers, timeout=30
    ).json()["value"]
    assert {a["appRoleId"] for a in assignments} >= {
        "df021288-bdef-4463-88db-98f22de89214",
        "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    }


def test_directory_changes_show_in_graph_and_reset_undoes_them(clean_sandbox: RunningSandbox) -> None:
    sb = clean_sandbox
    added = sb.control.post("users", {"displayName": "Ada Lovelace", "userPrincipalName": f"ada@{sb.tenant_domain}"})
    assert sb.control.get("state")["directory"]["users"] == 251
    sb.control.patch(f"users/{added['id']}", {"jobTitle": "Analyst"})
    headers = {"Authorization": f"Bearer {sb.token()}"}
    user = sb.session().get(f"{sb.graph_url}/users/{added['id']}", headers=headers, timeout=30).json()
    assert user["displayName"] == "Ada Lovelace" and user["jobTitle"] == "Analyst"
    sb.control.delete(f"users/{added['id']}")
    gone = sb.session().get(f"{sb.graph_url}/users/{added['id']}", headers=headers, timeout=30)
    assert gone.status_code == 404
    group = sb.control.post("groups", {"displayName": "Fresh group"})
    assert sb.control.get("state")["directory"]["groups"] == 31
    with pytest.raises(requests.HTTPError) as missing:
        sb.control.patch("groups/does-not-exist", {"displayName": "x"})
    assert missing.value.response.status_code == 404
    sb.control.post(f"apps/{sb.client_id}/grants", {"roles": ["Group.Read.All"]})
    sb.control.post("faults", {"path": "/v1.0", "status": 500, "count": 9})
    sb.reset()
    state = sb.control.get("state")
    assert state["directory"]["groups"] == 30 and state["directory"]["users"] == 250
    assert state["faults"] == [] and state["requests"] == 0
    demo = next(a for a in state["apps"] if a["client_id"] == sb.client_id)
    assert demo["granted_roles"] == ["User.Read.All"]
    assert group["id"]


def test_settings_change_and_validate(clean_sandbox: RunningSandbox) -> None:
    changed = clean_sandbox.control.post(
        "settings", {"delta_token_lifetime_seconds": 5, "refresh_token_lifetime_seconds": 60}
    )
    assert changed["delta_token_lifetime_seconds"] == 5 and changed["refresh_token_lifetime_seconds"] == 60
    with pytest.raises(requests.HTTPError):
        clean_sandbox.control.post("settings", {"nonsense": 1})
    clean_sandbox.reset()
    assert clean_sandbox.control.get("settings")["refresh_token_lifetime_seconds"] == 90 * 86400


def test_unknown_control_paths_and_bad_bodies_are_refused(sandbox: RunningSandbox) -> None:
    http = sandbox.session()
    assert http.get(f"{sandbox.base_url}/_sandbox/nothing", timeout=30).status_code == 404
    bad = http.post(f"{sandbox.base_url}/_sandbox/apps", data="{not json", timeout=30)
    assert bad.status_code == 400


def test_portal_grants_revokes_and_adds_a_secret(clean_sandbox: RunningSandbox) -> None:
    sb = clean_sandbox
    http = sb.session()
    page = http.get(f"{sb.base_url}/_sandbox/portal", timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert sb.tenant_id in page.text and sb.client_id in page.text and "graphconn demo" in page.text
    assert "adminconsent?client_id=" in page.text
    assert sb.client_secret not in page.text
    assert "<script" not in page.text and "http://" not in page.text.split("<body>")[0]
    grant_action = f"/_sandbox/portal/apps/{sb.client_id}/grant"
    assert f'action="{grant_action}"' in page.text
    granted = http.post(
        sb.base_url + grant_action,
        data={"kind": "role", "permission": "Group.Read.All"},
        allow_redirects=False,
        timeout=30,
    )
    assert granted.status_code == 303 and granted.headers["Location"].startswith("/_sandbox/portal")
    assert "Group.Read.All" in roles_of(sb.token())
    http.post(
        f"{sb.base_url}/_sandbox/portal/apps/{sb.client_id}/revoke",
        data={"kind": "role", "permission": "Group.Read.All"},
        timeout=30,
    )
    assert "Group.Read.All" not in roles_of(sb.token())
    added = http.post(
        f"{sb.base_url}/_sandbox/portal/apps/{sb.client_id}/secrets",
        data={"days": "30", "display_name": "from portal"},
        timeout=30,
    )
    shown = re.search(r"not shown again\): <code>([^<]+)</code>", added.text)
    assert shown
    assert sb.token(sb.client_id, shown.group(1))
    assert shown.group(1) not in http.get(f"{sb.base_url}/_sandbox/portal", timeout=30).text


def test_the_portal_walks_entras_steps_add_a_permission_then_grant_consent(clean_sandbox: RunningSandbox) -> None:
    sb = clean_sandbox
    http = sb.session()
    portal = f"{sb.base_url}/_sandbox/portal"
    created = http.post(f"{portal}/apps", data={"display_name": "walkthrough"}, timeout=30)
    secret = re.search(r"not shown again\): <code>([^<]+)</code>", created.text).group(1)
    client_id = re.findall(r"Application \(client\) ID <code>([0-9a-f-]{36})</code>", created.text)[-1]
    page = http.get(portal, timeout=30).text
    assert f"Directory (tenant) ID <code>{sb.tenant_id}</code>" in page and secret not in page
    endpoints = page.split('id="endpoints"')[1].split("</div>")[0]
    for label, path in (
        ("OAuth 2.0 token endpoint (v2)", "/oauth2/v2.0/token"),
        ("OAuth 2.0 authorization endpoint (v2)", "/oauth2/v2.0/authorize"),
        ("OAuth 2.0 token endpoint (v1)", "/oauth2/token"),
        ("OAuth 2.0 authorization endpoint (v1)", "/oauth2/authorize"),
    ):
        assert f"<th>{label}</th><td><code>{sb.base_url}/{sb.tenant_id}{path}</code>" in endpoints

    http.post(
        f"{portal}/apps/{client_id}/add-permission", data={"kind": "role", "permission": "User.Read.All"}, timeout=30
    )
    card = http.get(portal, timeout=30).text.split(f'id="app-{client_id}"')[1]
    assert 'User.Read.All</td><td><span class="warn">Not granted for' in card
    assert "User.Read.All" not in roles_of(sb.token(client_id, secret))  # added, not consented

    http.post(f"{portal}/apps/{client_id}/consent", timeout=30)
    assert "User.Read.All" in roles_of(sb.token(client_id, secret))
    card = http.get(portal, timeout=30).text.split(f'id="app-{client_id}"')[1]
    assert 'User.Read.All</td><td><span class="ok">Granted for the organisation' in card
