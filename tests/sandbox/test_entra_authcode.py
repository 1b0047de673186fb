"""The authorization-code flow, refresh tokens and admin consent, driven as a browser would."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from graphsandbox.testing import RunningSandbox, pkce_pair

# Every test starts from the sandbox's start state (tests in this file change grants and settings).
pytestmark = pytest.mark.usefixtures("clean_sandbox")

CALLBACK = "http://127.0.0.1:8000/connections/oauth/callback"
SCOPE = "User.Read Mail.Read offline_access openid profile"


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def redeem(
    sandbox: RunningSandbox,
    code: str,
    verifier: str | None,
    *,
    redirect_uri: str = CALLBACK,
    v2: bool = True,
    **extra: str,
):
    form = {
        "grant_type": "authorization_code",
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "code": code,
        "redirect_uri": redirect_uri,
        **extra,
    }
    if verifier is not None:
        form["code_verifier"] = verifier
    return sandbox.token_call(v2=v2, **form)


def test_sign_in_page_lists_directory_users_in_a_plain_form(sandbox: RunningSandbox) -> None:
    page = sandbox.session().get(
        f"{sandbox.base_url}/{sandbox.tenant_id}/oauth2/v2.0/authorize",
        params={
            "client_id": sandbox.client_id,
            "response_type": "code",
            "redirect_uri": CALLBACK,
            "scope": SCOPE,
            "state": "abc",
        },
        timeout=30,
    )
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert re.search(r'<form method="post"', page.text)
    assert len(re.findall(r'type="radio" name="user"', page.text)) >= 3
    assert f"@{sandbox.tenant_domain}" in page.text
    assert 'name="state" value="abc"' in page.text


def test_code_flow_with_pkce_gives_delegated_tokens(clean_sandbox: RunningSandbox) -> None:
    verifier, challenge = pkce_pair()
    answer = clean_sandbox.sign_in(
        client_id=clean_sandbox.client_id,
        redirect_uri=CALLBACK,
        scope=SCOPE,
        state="xyz",
        challenge=challenge,
        extra={"nonce": "n-1"},
    )
    assert answer["state"] == "xyz" and answer["code"]
    assert "session_state" not in answer
    token = redeem(clean_sandbox, answer["code"], verifier, scope=SCOPE)
    assert token.status_code == 200, token.text
    body = token.json()
    assert isinstance(body["expires_in"], int) and body["refresh_token"] and body["id_token"]
    assert set(body["scope"].split()) == {"User.Read", "Mail.Read", "offline_access", "openid", "profile"}
    access = claims(body["access_token"])
    assert set(access["scp"].split()) >= {"User.Read", "Mail.Read"}
    assert access["idtyp"] == "user" and "roles" not in access
    assert access["upn"] == access["unique_name"] and access["upn"].endswith(clean_sandbox.tenant_domain)
    assert access["name"] and access["appid"] == clean_sandbox.client_id
    user = clean_sandbox.session().get(
        f"{clean_sandbox.base_url}/v1.0/me", headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=30
    )
    assert user.status_code == 200 and user.json()["id"] == access["oid"]
    id_token = claims(body["id_token"])
    assert id_token["aud"] == clean_sandbox.client_id and id_token["nonce"] == "n-1"
    assert id_token["iss"] == f"{clean_sandbox.base_url}/{clean_sandbox.tenant_id}/v2.0"


def test_wrong_verifier_reused_code_and_wrong_redirect_fail(clean_sandbox: RunningSandbox) -> None:
    verifier, challenge = pkce_pair()
    code = clean_sandbox.sign_in(
        client_id=clean_sandbox.client_id, redirect_uri=CALLBACK, scope=SCOPE, challenge=challenge
    )["code"]
    wrong = redeem(clean_sandbox, code, "not-the-verifier")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    missing = redeem(clean_sandbox, code, None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"
    other_uri = redeem(clean_sandbox, code, verifier, redirect_uri="http://localhost:8000/connections/oauth/callback")
    assert other_uri.status_code == 400 and other_uri.json()["error"] == "invalid_grant"
    assert redeem(clean_sandbox, code, verifier).status_code == 200
    reused = redeem(clean_sandbox, code, verifier)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant" and reused.json()["error_codes"] == [54005]
    garbage = redeem(clean_sandbox, "not-a-code", verifier)
    assert garbage.status_code == 400 and garbage.json()["error"] == "invalid_grant"


def test_expired_code_is_70008(clean_sandbox: RunningSandbox) -> None:
    clean_sandbox.control.post("settings", {"auth_code_lifetime_seconds": 0})
    code = clean_sandbox.sign_in(client_id=clean_sandbox.client_id, redirect_uri=CALLBACK, scope=SCOPE)["code"]
    time.sleep(1.1)
    expired = redeem(clean_sandbox, code, None)
    assert expired.status_code == 400 and expired.json()["error_codes"] == [70008]


def test_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(sandbox: RunningSandbox) -> None:
    for path in ("oauth2/v2.0/authorize", "oauth2/authorize", "adminconsent"):
        answer = sandbox.session().get(
            f"{sandbox.base_url}/{sandbox.tenant_id}/{path}",
            params={
                "client_id": sandbox.client_id,
                "response_type": "code",
                "scope": SCOPE,
                "redirect_uri": "https://evil.example/steal",
            },
            allow_redirects=False,
            timeout=30,
        )
        assert answer.status_code == 400 and "Location" not in answer.headers
        assert "AADSTS50011" in answer.text and "evil.example" in answer.text


def test_cancel_redirects_with_access_denied(sandbox: RunningSandbox) -> None:
    answer = sandbox.sign_in(
        client_id=sandbox.client_id, redirect_uri=CALLBACK, scope=SCOPE, state="s9", action="cancel"
    )
    assert answer["error"] == "access_denied" and answer["state"] == "s9"
    assert answer["error_description"].startswith("AADSTS65004")


def test_v1_code_flow_adds_session_state_and_string_numbers(clean_sandbox: RunningSandbox) -> None:
    answer = clean_sandbox.sign_in(
        client_id=clean_sandbox.client_id,
        redirect_uri=CALLBACK,
        v1=True,
        extra={"resource": "https://graph.microsoft.com"},
    )
    assert answer["session_state"] and answer["code"]
    token = redeem(clean_sandbox, answer["code"], None, v2=False, resource="https://graph.microsoft.com")
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["expires_in"] == "3599" and body["resource"] == "https://graph.microsoft.com"
    assert body["refresh_token"]
    assert set(claims(body["access_token"])["scp"].split()) >= {"User.Read", "Mail.Read"}


def test_refresh_token_rotates_and_new_grants_reach_only_new_tokens(clean_sandbox: RunningSandbox) -> None:
    sb = clean_sandbox
    verifier, challenge = pkce_pair()
    code = sb.sign_in(
        client_id=sb.client_id, redirect_uri=CALLBACK, scope=".default offline_access openid", challenge=challenge
    )["code"]
    first = redeem(sb, code, verifier).json()
    assert "Group.Read.All" not in claims(first["access_token"])["scp"]
    sb.control.post(f"apps/{sb.client_id}/grants", {"scopes": ["Group.Read.All"]})
    refreshed = sb.token_call(
        grant_type="refresh_token",
        client_id=sb.client_id,
        client_secret=sb.client_secret,
        refresh_token=first["refresh_token"],
    )
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert "Group.Read.All" in claims(second["access_token"])["scp"].split()
    assert "Group.Read.All" not in claims(first["access_token"])["scp"].split()


def test_expired_refresh_token_is_700082(clean_sandbox: RunningSandbox) -> None:
    sb = clean_sandbox
    code = sb.sign_in(client_id=sb.client_id, redirect_uri=CALLBACK, scope=SCOPE)["code"]
    refresh = redeem(sb, code, None).json()["refresh_token"]
    sb.control.post("settings", {"refresh_token_lifetime_seconds": 0})
    time.sleep(0.05)
    answer = sb.token_call(
        grant_type="refresh_token",
        client_id=sb.client_id,
        client_secret=sb.client_secret,
        refresh_token=refresh,
        scope=SCOPE,
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "invalid_grant" and body["error_codes"] == [700082]
    assert body["error_description"].startswith("AADSTS700082: The refresh token has expired due to inactivity.")


def test_unconsented_delegated_scope_is_65001(clean_sandbox: RunningSandbox) -> None:
    sb = clean_sandbox
    code = sb.sign_in(client_id=sb.client_id, redirect_uri=CALLBACK, scope="User.Read Group.Read.All openid")["code"]
    answer = redeem(sb, code, None)
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "invalid_grant" and body["error_codes"] == [65001]
    assert "has not consented to use the application" in body["error_description"]


@pytest.mark.parametrize("v2", [False, True])
def test_admin_consent_grants_the_requested_application_permissions(clean_sandbox: RunningSandbox, v2: bool) -> None:
    sb = clean_sandbox
    url = f"{sb.base_url}/{sb.tenant_id}/{'v2.0/' if v2 else ''}adminconsent"
    params = {"client_id": sb.client_id, "redirect_uri": CALLBACK, "state": "adm"}
    if v2:
        params["scope"] = "https://graph.microsoft.com/.default"
    http = sb.session()
    page = http.get(url, params=params, timeout=30)
    assert page.status_code == 200 and "Group.Read.All" in page.text
    before = claims(sb.token())["roles"]
    assert "Group.Read.All" not in before
    answer = http.post(url, data={**params, "action": "accept"}, allow_redirects=False, timeout=30)
    assert answer.status_code == 302
    query = {k: v[-1] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
    assert query["admin_consent"] == "True" and query["tenant"] == sb.tenant_id and query["state"] == "adm"
    assert ("scope" in query) is v2
    assert {"Group.Read.All", "GroupMember.Read.All"} <= set(claims(sb.token())["roles"])


def test_admin_consent_cancel_redirects_with_the_documented_error(sandbox: RunningSandbox) -> None:
    url = f"{sandbox.base_url}/{sandbox.tenant_id}/adminconsent"
    answer = sandbox.session().post(
        url,
        data={"client_id": sandbox.client_id, "redirect_uri": CALLBACK, "state": "c", "action": "cancel"},
        allow_redirects=False,
        timeout=30,
    )
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["permission_denied"] and query["state"] == ["c"]
