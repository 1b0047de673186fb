"""Sign in with Microsoft against the session's sandbox: the dashboard's app registration, sandbox
users with app roles or groups, and ``sign_in(client, user)`` doing what a browser does."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client

ROLES = ["graphconn.team-a.admin", "graphconn.team-a.operator", "graphconn.team-a.viewer"]
BASE = "http://testserver"


def query_of(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def sso_app(clean_sandbox, settings) -> dict[str, Any]:
    """The dashboard's own app registration in the sandbox, and the dashboard configured for it."""
    return register_dashboard_app(clean_sandbox, settings, BASE)


def register_dashboard_app(sandbox: Any, settings: Any, base: str) -> dict[str, Any]:
    app = sandbox.control.post(
        "/_sandbox/apps",
        {
            "display_name": "graphconn sign-in (tests)",
            "scopes": ["openid", "profile"],
            "app_roles": ROLES,
            "group_membership_claims": "SecurityGroup",
            "redirect_uris": [f"{base}/sso/callback/", f"{base}/accounts/login/"],
        },
    )
    settings.OIDC_TENANT_ID = sandbox.tenant_id
    settings.OIDC_ALLOWED_TENANTS = []
    settings.OIDC_RP_CLIENT_ID = app["client_id"]
    settings.OIDC_RP_CLIENT_SECRET = app["client_secret"]
    settings.OIDC_AUTHORITY_HOST = sandbox.base_url
    return app


@pytest.fixture
def entra_user(clean_sandbox) -> Callable[..., dict[str, Any]]:
    """``entra_user("Ada Admin", role=..., groups=[...])``: a sandbox user, optionally holding an app role."""
    sandbox = clean_sandbox

    def create(name: str, *, role: str | None = None, app: dict[str, Any] | None = None) -> dict[str, Any]:
        local = re.sub(r"\W+", ".", name.lower())
        user = sandbox.control.post(
            "/_sandbox/users", {"displayName": name, "userPrincipalName": f"{local}@{sandbox.tenant_domain}"}
        )
        if role:
            sandbox.control.post(
                f"/_sandbox/apps/{app['client_id']}/assignments", {"principal": user["id"], "role": role}
            )
        return user

    return create


@pytest.fixture
def security_group(clean_sandbox) -> Callable[..., dict[str, Any]]:
    def create(name: str, members: list[str]) -> dict[str, Any]:
        return clean_sandbox.control.post(
            "/_sandbox/groups", {"displayName": name, "securityEnabled": True, "mailEnabled": False, "members": members}
        )

    return create


def authorize(sandbox: Any, authorize_url: str, user_id: str, tamper: dict[str, str] | None = None) -> str:
    """Open Entra's sign-in page at ``authorize_url``, pick ``user_id``, accept; the callback URL."""
    params = {**query_of(authorize_url), **(tamper or {})}
    endpoint = authorize_url.split("?", 1)[0]
    http = sandbox.session()
    page = http.get(endpoint, params=params, timeout=30)
    assert page.status_code == 200, page.text[:500]
    assert f'value="{user_id}"' in page.text, "the sign-in page does not list the user"
    answer = http.post(
        endpoint, data={**params, "user": user_id, "action": "accept"}, allow_redirects=False, timeout=30
    )
    assert answer.status_code == 302, answer.text[:500]
    return answer.headers["Location"]


@pytest.fixture
def sign_in(clean_sandbox) -> Callable[..., Any]:
    """``sign_in(client, user)``: Sign in with Microsoft → sandbox page → pick the user → the callback's answer."""

    def run(client: Client, user: dict[str, Any], tamper: dict[str, str] | None = None) -> Any:
        start = client.get("/sso/login/")
        assert start.status_code == 302, start.content[:500]
        callback = authorize(clean_sandbox, start["Location"], user["id"], tamper)
        assert callback.startswith(f"{BASE}/sso/callback/"), callback
        return client.get(callback[len(BASE) :])

    return run


def callback_url(sandbox: Any, client: Client, user: dict[str, Any]) -> str:
    """A genuine callback URL (code + state) for ``client``'s session, not yet visited."""
    start = client.get("/sso/login/")
    return authorize(sandbox, start["Location"], user["id"])[len(BASE) :]


__all__ = ["ROLES", "BASE", "authorize", "callback_url", "query_of", "register_dashboard_app", "urlencode"]
