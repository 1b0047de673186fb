"""Sign-in settings: Entra's endpoints from tenant + authority, and plain messages for bad values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from connections.sso.config import EntraSignIn

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "0b5c7e1d-1111-2222-3333-444455556666"


def config(**values: object) -> EntraSignIn:
    return EntraSignIn.from_settings(SimpleNamespace(**values))


def test_off_when_nothing_is_set():
    assert not config().enabled and config().problems() == []


def test_single_tenant_endpoints_and_issuer():
    c = config(OIDC_TENANT_ID=TENANT.upper(), OIDC_RP_CLIENT_ID=CLIENT, OIDC_RP_CLIENT_SECRET="s")
    assert c.enabled and c.problems() == [] and c.allowed_tenants == (TENANT,)
    assert c.authorize_url == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize"
    assert c.token_url == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
    assert c.jwks_url == f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys"
    assert c.issuer(TENANT) == f"https://login.microsoftonline.com/{TENANT}/v2.0"
    assert c.end_session_url("https://gc.example/accounts/login/") == (
        f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/logout?"
        "post_logout_redirect_uri=https%3A%2F%2Fgc.example%2Faccounts%2Flogin%2F"
    )


def test_several_organisations_need_an_allow_list():
    c = config(OIDC_TENANT_ID="organizations", OIDC_RP_CLIENT_ID=CLIENT, OIDC_RP_CLIENT_SECRET="s")
    assert any("OIDC_ALLOWED_TENANTS must list" in p for p in c.problems())
    c = config(
        OIDC_TENANT_ID="Organizations",
        OIDC_ALLOWED_TENANTS=[TENANT],
        OIDC_RP_CLIENT_ID=CLIENT,
        OIDC_RP_CLIENT_SECRET="s",
        OIDC_AUTHORITY_HOST="https://login.microsoftonline.us/",
    )
    assert c.problems() == [] and c.token_url == "https://login.microsoftonline.us/organizations/oauth2/v2.0/token"


def test_bad_values_are_named():
    problems = " ".join(
        config(
            OIDC_TENANT_ID="contoso.com", OIDC_RP_CLIENT_ID="my app", OIDC_AUTHORITY_HOST="http://login.example"
        ).problems()
    )
    assert "OIDC_TENANT_ID must be a tenant id" in problems
    assert "OIDC_RP_CLIENT_ID must be the app registration's Application (client) ID" in problems
    assert "OIDC_RP_CLIENT_SECRET must be set" in problems
    assert "OIDC_AUTHORITY_HOST must be an https:// URL" in problems


def test_bad_settings_stop_the_start_with_the_reason():
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "OIDC_TENANT_ID": TENANT, "OIDC_RP_CLIENT_ID": CLIENT, "OIDC_RP_CLIENT_SECRET": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "OIDC_RP_CLIENT_SECRET must be set" in result.stderr
    env = {**os.environ, "LOCAL_LOGIN_ENABLED": "False"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "LOCAL_LOGIN_ENABLED=False needs Sign in with Microsoft" in result.stderr
