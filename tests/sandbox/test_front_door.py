"""Graph's front door: bearer-token checks, permission checks, and the headers on every answer."""

from __future__ import annotations

import base64
import json
import re

import jwt
import pytest
import requests

from graphsandbox.testing import RunningSandbox

# Every test starts from the sandbox's start state (tests in this file change grants and settings).
pytestmark = pytest.mark.usefixtures("clean_sandbox")

WWW_AUTH = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def get(sandbox: RunningSandbox, path: str, token: str | None, **headers: str) -> requests.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return sandbox.session().get(sandbox.base_url + path, headers=headers, timeout=30)


def assert_graph_headers(answer: requests.Response) -> None:
    assert GUID.fullmatch(answer.headers["request-id"])
    assert json.loads(answer.headers["x-ms-ags-diagnostic"])["ServerInfo"]
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
    assert answer.headers["Date"].endswith("GMT")


def assert_401(answer: requests.Response, message: str) -> None:
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken" and error["message"] == message
    assert answer.headers["WWW-Authenticate"] == WWW_AUTH
    assert error["innerError"]["request-id"] == answer.headers["request-id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", error["innerError"]["date"])
    assert answer.headers["Content-Type"] == "application/json"
    assert_graph_headers(answer)


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["Directory.ReadWrite.All"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_missing_token(sandbox: RunningSandbox) -> None:
    assert_401(get(sandbox, "/v1.0/users", None), "Access token is empty.")
    assert_401(get(sandbox, "/v1.0/users", ""), "Access token is empty.")


def test_garbage_token(sandbox: RunningSandbox) -> None:
    assert_401(get(sandbox, "/v1.0/users", "not-a-jwt"), "CompactToken parsing failed with error code: 80049217")


def test_tampered_token_and_wrong_audience(sandbox: RunningSandbox) -> None:
    assert_401(get(sandbox, "/v1.0/users", _tampered(sandbox.token())), "Access token validation failure.")
    stranger = jwt.encode(
        {"aud": "https://graph.microsoft.com", "tid": sandbox.tenant_id, "exp": 2**31},
        "a-key-that-is-not-the-sandbox-s-key-at-all",
        algorithm="HS256",
    )
    assert_401(get(sandbox, "/v1.0/users", stranger), "Access token validation failure.")


def test_id_token_is_not_an_access_token(clean_sandbox: RunningSandbox) -> None:
    sb = clean_sandbox
    redirect = "http://127.0.0.1:8000/connections/oauth/callback"
    code = sb.sign_in(client_id=sb.client_id, redirect_uri=redirect, scope="User.Read openid")["code"]
    body = sb.token_call(
        grant_type="authorization_code",
        client_id=sb.client_id,
        client_secret=sb.client_secret,
        code=code,
        redirect_uri=redirect,
    ).json()
    assert_401(get(sb, "/v1.0/me", body["id_token"]), "Access token validation failure.")


def test_expired_token(clean_sandbox: RunningSandbox) -> None:
    clean_sandbox.control.post("settings", {"token_lifetime_seconds": 0})
    token = clean_sandbox.token()
    assert_401(get(clean_sandbox, "/v1.0/users", token), "Lifetime validation failed, the token is expired.")


def test_groups_are_refused_until_granted_and_a_new_token_is_fetched(clean_sandbox: RunningSandbox) -> None:
    sb = clean_sandbox
    old = sb.token()
    denied = get(sb, "/v1.0/groups", old)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "Authorization_RequestDenied"
    assert denied.json()["error"]["message"] == "Insufficient privileges to complete the operation."
    assert_graph_headers(denied)
    sb.control.post(f"apps/{sb.client_id}/grants", {"roles": ["Group.Read.All"]})
    assert get(sb, "/v1.0/groups", old).status_code == 403  # the old token predates the grant
    fresh = get(sb, "/v1.0/groups", sb.token())
    assert fresh.status_code == 200
    assert len(fresh.json()["value"]) == 30
    sb.control.delete(f"apps/{sb.client_id}/grants", {"roles": ["Group.Read.All"]})
    assert get(sb, "/v1.0/groups", sb.token()).status_code == 403


def test_success_headers_and_client_request_id_echo(sandbox: RunningSandbox) -> None:
    answer = get(sandbox, "/v1.0/users?$top=1", sandbox.token(), **{"client-request-id": "mine-123"})
    assert answer.status_code == 200
    assert answer.headers["client-request-id"] == "mine-123"
    assert answer.headers["request-id"] != "mine-123"
    assert answer.headers["Content-Type"] == (
        "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
    )
    assert answer.headers["OData-Version"] == "4.0" and answer.headers["Cache-Control"] == "no-cache"
    assert_graph_headers(answer)
    plain = get(sandbox, "/v1.0/users?$top=1", sandbox.token())
    assert plain.headers["client-request-id"] == plain.headers["request-id"]


def test_app_token_on_me_is_a_bad_request(sandbox: RunningSandbox) -> None:
    answer = get(sandbox, "/v1.0/me", sandbox.token())
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        **answer.json()["error"],
        "code": "BadRequest",
        "message": "/me request is only valid with delegated authentication flow.",
    }


def test_beta_is_served_and_unknown_paths_are_404_json(sandbox: RunningSandbox) -> None:
    assert get(sandbox, "/beta/users?$top=1", sandbox.token()).status_code == 200
    missing = get(sandbox, "/nothing/here", None)
    assert missing.status_code == 404 and missing.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("path", ["/v1.0/users", "/v1.0/groups"])
def test_requests_are_counted_by_path_and_client(clean_sandbox: RunningSandbox, path: str) -> None:
    token = clean_sandbox.token()
    for _ in range(3):
        get(clean_sandbox, path, token)
    counts = clean_sandbox.control.get("requests")
    assert counts["by_path"][path] == 3
    assert counts["by_client"][clean_sandbox.client_id] == 4  # one token request + three calls
    assert counts["token_requests"] == {clean_sandbox.client_id: 1}
    assert counts["total"] == 4
