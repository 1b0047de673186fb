"""MSAL for Python gets tokens from the sandbox unchanged, and PyJWT verifies them with its JWKS."""

from __future__ import annotations

import html
import re
import ssl
from urllib.parse import parse_qs, urlsplit

import jwt
import msal
import pytest

from graphsandbox.testing import RunningSandbox

# Every test starts from the sandbox's start state (tests in this file change grants and settings).
pytestmark = pytest.mark.usefixtures("clean_sandbox")

GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]


def msal_app(
    sandbox: RunningSandbox, tenant: str, client_id: str | None = None, secret: str | None = None
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id or sandbox.client_id,
        client_credential=secret or sandbox.client_secret,
        authority=f"{sandbox.base_url}/{tenant}",
        instance_discovery=False,
        http_client=sandbox.session(),
    )


def verified(sandbox: RunningSandbox, token: str) -> dict:
    """Checks the signature the way a resource server would: JWKS from the published jwks_uri."""
    context = ssl.create_default_context(cafile=sandbox.ca_path)
    keys = jwt.PyJWKClient(f"{sandbox.base_url}/{sandbox.tenant_id}/discovery/v2.0/keys", ssl_context=context)
    key = keys.get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=["https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"],
        issuer=f"https://sts.windows.net/{sandbox.tenant_id}/",
    )


@pytest.mark.parametrize("tenant_kind", ["id", "domain"])
def test_msal_client_credentials_with_tenant_id_or_domain(sandbox: RunningSandbox, tenant_kind: str) -> None:
    tenant = sandbox.tenant_id if tenant_kind == "id" else sandbox.tenant_domain
    result = msal_app(sandbox, tenant).acquire_token_for_client(GRAPH_DEFAULT)
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer" and result["expires_in"] > 3500
    c = verified(sandbox, result["access_token"])
    assert c["tid"] == sandbox.tenant_id and c["appid"] == sandbox.client_id
    assert c["idtyp"] == "app" and c["roles"] == ["User.Read.All"]


def test_roles_appear_only_in_tokens_fetched_after_the_grant(clean_sandbox: RunningSandbox) -> None:
    sb = clean_sandbox
    created = sb.control.post("apps", {"display_name": "late grant", "requested_roles": ["User.Read.All"]})
    app = msal_app(sb, sb.tenant_id, created["client_id"], created["client_secret"])
    before = app.acquire_token_for_client(GRAPH_DEFAULT)
    assert "roles" not in verified(sb, before["access_token"])

    sb.control.post(f"apps/{created['client_id']}/grants", {"roles": ["User.Read.All"]})
    cached = app.acquire_token_for_client(GRAPH_DEFAULT)
    assert cached["access_token"] == before["access_token"]  # MSAL's cache: the grant is not in it
    fresh = msal_app(sb, sb.tenant_id, created["client_id"], created["client_secret"]).acquire_token_for_client(
        GRAPH_DEFAULT
    )
    assert verified(sb, fresh["access_token"])["roles"] == ["User.Read.All"]
    assert "roles" not in verified(sb, before["access_token"])


def test_msal_reports_aadsts_errors(sandbox: RunningSandbox) -> None:
    result = msal_app(sandbox, sandbox.tenant_id, secret="wrong").acquire_token_for_client(GRAPH_DEFAULT)
    assert result["error"] == "invalid_client" and 7000215 in result["error_codes"]


def test_msal_auth_code_flow_and_silent_refresh(clean_sandbox: RunningSandbox) -> None:
    sb = clean_sandbox
    app = msal_app(sb, sb.tenant_id)
    redirect = "http://127.0.0.1:8000/connections/oauth/callback"
    flow = app.initiate_auth_code_flow(["User.Read", "Mail.Read"], redirect_uri=redirect)
    session = sb.session()
    page = session.get(flow["auth_uri"], timeout=30)
    assert page.status_code == 200
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)
    fields = {html.unescape(k): html.unescape(v) for k, v in hidden}
    user = re.findall(r'name="user" value="([^"]+)"', page.text)[0]
    answer = session.post(
        flow["auth_uri"].split("?")[0],
        data={**fields, "user": user, "action": "accept"},
        allow_redirects=False,
        timeout=30,
    )
    query = {k: v[-1] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
    result = app.acquire_token_by_auth_code_flow(flow, query)
    assert "access_token" in result, result
    assert set(verified(sb, result["access_token"])["scp"].split()) >= {"User.Read", "Mail.Read"}
    assert result["id_token_claims"]["tid"] == sb.tenant_id
    account = app.get_accounts()[0]
    assert account["username"].endswith(sb.tenant_domain)
    silent = app.acquire_token_silent(["User.Read"], account=account, force_refresh=True)
    assert silent and "access_token" in silent and silent["access_token"] != result["access_token"]
