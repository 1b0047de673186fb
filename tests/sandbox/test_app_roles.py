"""App roles and group claims in ID tokens, the dashboard's sign-in app, sign-out, assignments."""

from __future__ import annotations

import jwt
import pytest
import requests

from graphsandbox.testing import RunningSandbox, pkce_pair

pytestmark = pytest.mark.usefixtures("clean_sandbox")

CALLBACK = "http://127.0.0.1:9000/sso/callback/"
ROLES = ["graphconn.x.admin", "graphconn.x.viewer"]


@pytest.fixture
def app(sandbox: RunningSandbox) -> dict:
    return sandbox.control.post(
        "/_sandbox/apps",
        {
            "display_name": "sign-in app",
            "scopes": ["openid", "profile"],
            "app_roles": ROLES,
            "group_membership_claims": "SecurityGroup",
            "redirect_uris": [CALLBACK, "http://127.0.0.1:9000/"],
        },
    )


def id_token(sandbox: RunningSandbox, app: dict, user: str, nonce: str = "n-1") -> dict:
    verifier, challenge = pkce_pair()
    answer = sandbox.sign_in(
        client_id=app["client_id"],
        redirect_uri=CALLBACK,
        scope="openid profile",
        challenge=challenge,
        user=user,
        extra={"nonce": nonce},
    )
    token = sandbox.token_call(
        grant_type="authorization_code",
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        code=answer["code"],
        redirect_uri=CALLBACK,
        code_verifier=verifier,
    ).json()["id_token"]
    header_kid = jwt.get_unverified_header(token)["kid"]
    keys = sandbox.session().get(f"{sandbox.base_url}/{sandbox.tenant_id}/discovery/v2.0/keys", timeout=30).json()
    key = jwt.PyJWK(next(k for k in keys["keys"] if k["kid"] == header_kid))
    return jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        audience=app["client_id"],
        issuer=f"{sandbox.base_url}/{sandbox.tenant_id}/v2.0",
    )


def new_user(sandbox: RunningSandbox, name: str) -> dict:
    return sandbox.control.post(
        "/_sandbox/users", {"displayName": name, "userPrincipalName": f"{name.lower()}@{sandbox.tenant_domain}"}
    )


def test_the_id_token_names_the_person_and_carries_assigned_roles_and_groups(sandbox: RunningSandbox, app: dict):
    ada = new_user(sandbox, "Ada")
    sandbox.control.post(
        f"/_sandbox/apps/{app['client_id']}/assignments", {"principal": ada["userPrincipalName"], "role": ROLES[0]}
    )
    group = sandbox.control.post(
        "/_sandbox/groups", {"displayName": "viewers", "securityEnabled": True, "members": [ada["id"]]}
    )
    m365 = sandbox.control.post(
        "/_sandbox/groups", {"displayName": "m365", "securityEnabled": False, "members": [ada["id"]]}
    )

    claims = id_token(sandbox, app, ada["id"], nonce="nonce-42")

    assert claims["nonce"] == "nonce-42"
    assert (claims["oid"], claims["tid"]) == (ada["id"], sandbox.tenant_id)
    assert (claims["preferred_username"], claims["name"]) == (ada["userPrincipalName"], "Ada")
    assert claims["roles"] == [ROLES[0]]
    assert group["id"] in claims["groups"] and m365["id"] not in claims["groups"]  # SecurityGroup only


def test_a_role_assigned_to_a_group_reaches_its_members_and_leaves_with_them(sandbox: RunningSandbox, app: dict):
    vic = new_user(sandbox, "Vic")
    group = sandbox.control.post("/_sandbox/groups", {"displayName": "readers", "securityEnabled": True})
    sandbox.control.post(f"/_sandbox/apps/{app['client_id']}/assignments", {"principal": group["id"], "role": ROLES[1]})
    assert "roles" not in id_token(sandbox, app, vic["id"])

    sandbox.control.post(f"/_sandbox/groups/{group['id']}/members", {"id": vic["userPrincipalName"]})
    assert id_token(sandbox, app, vic["id"])["roles"] == [ROLES[1]]

    sandbox.control.delete(f"/_sandbox/groups/{group['id']}/members/{vic['id']}")
    claims = id_token(sandbox, app, vic["id"])
    assert "roles" not in claims and group["id"] not in claims["groups"]


def test_generated_group_memberships_show_in_the_groups_claim(sandbox: RunningSandbox, app: dict):
    sandbox.control.post(f"/_sandbox/apps/{sandbox.client_id}/grants", {"roles": ["GroupMember.Read.All"]})
    headers = {"Authorization": f"Bearer {sandbox.token()}"}
    listing = (
        sandbox.session()
        .get(f"{sandbox.graph_url}/groups?$top=30&$select=id,securityEnabled", headers=headers, timeout=30)
        .json()["value"]
    )
    security = next(g for g in listing if g["securityEnabled"])
    member = (
        sandbox.session()
        .get(f"{sandbox.graph_url}/groups/{security['id']}/members", headers=headers, timeout=30)
        .json()["value"][0]
    )
    assert security["id"] in id_token(sandbox, app, member["id"])["groups"]


def test_assigning_a_role_the_app_does_not_define_is_refused(sandbox: RunningSandbox, app: dict):
    ada = new_user(sandbox, "Ada")
    with pytest.raises(requests.HTTPError) as refused:
        sandbox.control.post(
            f"/_sandbox/apps/{app['client_id']}/assignments", {"principal": ada["id"], "role": "graphconn.other.admin"}
        )
    assert refused.value.response.status_code == 400 and "defines no app role" in refused.value.response.text
    with pytest.raises(requests.HTTPError) as unknown:
        sandbox.control.post(
            f"/_sandbox/apps/{app['client_id']}/assignments", {"principal": "nobody@x", "role": ROLES[0]}
        )
    assert unknown.value.response.status_code == 404


def test_the_dashboard_sign_in_app_exists_from_the_start_with_demo_roles(sandbox: RunningSandbox):
    apps = {a["display_name"]: a for a in sandbox.control.get("/_sandbox/apps")}
    dashboard = apps["graphconn dashboard sign-in"]
    assert dashboard["app_roles"] == ["graphconn.demo.admin", "graphconn.demo.operator", "graphconn.demo.viewer"]
    assert sorted(r for roles in dashboard["assignments"].values() for r in roles) == sorted(dashboard["app_roles"])
    assert "http://127.0.0.1:8000/sso/callback/" in dashboard["redirect_uris"]
    page = sandbox.session().get(
        f"{sandbox.base_url}/{sandbox.tenant_id}/oauth2/v2.0/authorize",
        params={
            "client_id": dashboard["client_id"],
            "response_type": "code",
            "scope": "openid profile",
            "redirect_uri": "http://127.0.0.1:8000/sso/callback/",
        },
        timeout=30,
    )
    assert "app role graphconn.demo.admin" in page.text


def test_more_than_200_groups_give_the_overage_claim(sandbox: RunningSandbox, app: dict):
    ada = new_user(sandbox, "Ada")
    for i in range(201):
        sandbox.control.post(
            "/_sandbox/groups", {"displayName": f"g{i}", "securityEnabled": True, "members": [ada["id"]]}
        )
    claims = id_token(sandbox, app, ada["id"])
    assert "groups" not in claims and claims["_claim_names"] == {"groups": "src1"}
    assert claims["_claim_sources"]["src1"]["endpoint"].endswith(f"/users/{ada['id']}/getMemberObjects")


def test_sign_out_returns_only_to_a_registered_address(sandbox: RunningSandbox, app: dict, http: requests.Session):
    logout = f"{sandbox.base_url}/{sandbox.tenant_id}/oauth2/v2.0/logout"
    back = http.get(
        logout, params={"post_logout_redirect_uri": "http://127.0.0.1:9000/"}, allow_redirects=False, timeout=30
    )
    assert back.status_code == 302 and back.headers["Location"] == "http://127.0.0.1:9000/"
    elsewhere = http.get(
        logout, params={"post_logout_redirect_uri": "https://evil.example/"}, allow_redirects=False, timeout=30
    )
    assert elsewhere.status_code == 200 and "You signed out of your account" in elsewhere.text


def test_the_portal_assigns_and_removes_roles_and_group_members(
    sandbox: RunningSandbox, app: dict, http: requests.Session
):
    ada = new_user(sandbox, "Ada")
    group = sandbox.control.post("/_sandbox/groups", {"displayName": "readers", "securityEnabled": True})
    portal = f"{sandbox.base_url}/_sandbox/portal"
    assert (
        http.post(
            f"{portal}/apps/{app['client_id']}/assign",
            data={"principal": ada["userPrincipalName"], "role": ROLES[1]},
            allow_redirects=False,
            timeout=30,
        ).status_code
        == 303
    )
    assert (
        http.post(
            f"{portal}/members",
            data={"group": group["id"], "user": ada["userPrincipalName"], "op": "add"},
            allow_redirects=False,
            timeout=30,
        ).status_code
        == 303
    )
    overview = http.get(portal, timeout=30).text
    assert "Ada (ada@" in overview and ROLES[1] in overview
    claims = id_token(sandbox, app, ada["id"])
    assert claims["roles"] == [ROLES[1]] and group["id"] in claims["groups"]

    http.post(f"{portal}/apps/{app['client_id']}/unassign", data={"principal": ada["id"], "role": ROLES[1]}, timeout=30)
    http.post(f"{portal}/members", data={"group": group["id"], "user": ada["id"], "op": "remove"}, timeout=30)
    claims = id_token(sandbox, app, ada["id"])
    assert "roles" not in claims and group["id"] not in claims["groups"]
    bad = http.post(
        f"{portal}/apps/{app['client_id']}/assign", data={"principal": "ghost@x", "role": ROLES[1]}, timeout=30
    )
    assert bad.status_code == 400 and "no user or group" in bad.text


def test_a_fault_replaces_id_token_claims_for_the_next_token_only(sandbox: RunningSandbox, app: dict):
    ada = new_user(sandbox, "Ada")
    sandbox.control.post(
        "/_sandbox/faults", {"path": f"/{sandbox.tenant_id}/oauth2/v2.0/token", "id_token_claims": {"name": "Mallory"}}
    )
    assert id_token(sandbox, app, ada["id"])["name"] == "Mallory"
    assert id_token(sandbox, app, ada["id"])["name"] == "Ada"
    with pytest.raises(requests.HTTPError):
        sandbox.control.post("/_sandbox/faults", {"path": "/", "id_token_claims": "aud"})
