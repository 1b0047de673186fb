"""load_demo: demo users and team at once, sandbox connections when the sandbox has written its details."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from connections.models import AuditEntry, Connection, Membership, Team

pytestmark = pytest.mark.django_db

SANDBOX = {
    "base_url": "https://127.0.0.1:8443/",
    "ca_path": "/tmp/ca.pem",
    "tenant_id": "8f3a1e2b-1111-2222-3333-444455556666",
    "tenant_domain": "sandbox.onmicrosoft.com",
    "client_id": "0b5c7e1d-1111-2222-3333-444455556666",
    "client_secret": "sbx~demo.secret-value",
}


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_without_the_sandbox_file_it_creates_users_and_team(tmp_path, capsys):
    call_command("load_demo", sandbox_json=str(tmp_path / "missing.json"))
    out = capsys.readouterr().out
    assert "Log in at http://127.0.0.1:8000/ as demo / demo-graphconn" in out
    assert "added on the next run" in out
    team = Team.objects.get(name="Demo team")
    roles = dict(Membership.objects.filter(team=team).values_list("user__username", "role"))
    assert roles == {"demo": "admin", "operator": "operator", "viewer": "viewer"}
    assert get_user_model().objects.get(username="demo").is_superuser
    assert authenticate(username="viewer", password="demo-graphconn") is not None
    assert not Connection.objects.exists()


def test_with_the_sandbox_file_it_adds_the_connections_once(tmp_path, capsys):
    path = tmp_path / "sandbox.json"
    path.write_text(json.dumps(SANDBOX))
    call_command("load_demo", sandbox_json=str(path), password="other-pass")
    call_command("load_demo", sandbox_json=str(path), password="other-pass")
    out = capsys.readouterr().out
    assert "demo / other-pass" in out and SANDBOX["client_secret"] not in out
    users = Connection.objects.get(name="Sandbox users")
    groups = Connection.objects.get(name="Sandbox groups")
    assert users.entity == "users" and groups.entity == "groups"
    assert users.service_url == "https://127.0.0.1:8443/v1.0"
    assert users.token_url == "https://127.0.0.1:8443/8f3a1e2b-1111-2222-3333-444455556666/oauth2/v2.0/token"
    assert users.authorize_url.endswith("/oauth2/v2.0/authorize")
    assert users.scope == "https://graph.microsoft.com/.default"
    assert (users.token_version, users.grant_type) == ("v2", "client_credentials")
    assert users.client_secret == SANDBOX["client_secret"]
    mail = Connection.objects.get(name="Sandbox mail (sign in)")
    assert (mail.grant_type, mail.entity, mail.scope) == ("authorization_code", "me/messages", "User.Read Mail.Read")
    assert mail.redirect_url == "http://127.0.0.1:8000/connections/oauth/callback"  # registered in the sandbox
    assert Connection.objects.count() == 3 and Team.objects.count() == 1 and Membership.objects.count() == 3
    assert AuditEntry.objects.filter(action="created").count() == 3

    path.write_text(json.dumps({**SANDBOX, "client_secret": "sbx~rotated"}))
    call_command("load_demo", sandbox_json=str(path))
    assert Connection.objects.get(name="Sandbox users").client_secret == "sbx~rotated"
    assert AuditEntry.objects.filter(action="secret_replaced").count() == 3


def test_with_the_dashboard_app_it_maps_the_demo_roles_and_writes_the_sign_in_settings(tmp_path, capsys):
    from connections.models import ClaimMapping
    from connections.sso.config import EntraSignIn

    path = tmp_path / "sandbox.json"
    path.write_text(
        json.dumps(
            {
                **SANDBOX,
                "dashboard_client_id": "2c5d7e1d-1111-2222-3333-444455556666",
                "dashboard_client_secret": "sbx~dashboard.secret",
            }
        )
    )
    env = tmp_path / "sign-in.env"
    call_command("load_demo", sandbox_json=str(path), sso_env=str(env))
    call_command("load_demo", sandbox_json=str(path), sso_env=str(env))

    mappings = set(ClaimMapping.objects.values_list("value", "team__name", "role"))
    assert mappings == {
        ("graphconn.demo.admin", "Demo team", "admin"),
        ("graphconn.demo.operator", "Demo team", "operator"),
        ("graphconn.demo.viewer", "Demo team", "viewer"),
    }
    values = dict(line.split("=", 1) for line in env.read_text().splitlines())
    settings = type("S", (), {k: v.strip("'") for k, v in values.items()})
    config = EntraSignIn.from_settings(settings)
    assert config.enabled and not config.problems()
    assert config.token_url == f"https://127.0.0.1:8443/{SANDBOX['tenant_id']}/oauth2/v2.0/token"
    assert oct(env.stat().st_mode & 0o777) == "0o600"
    assert "sbx~dashboard.secret" not in capsys.readouterr().out
