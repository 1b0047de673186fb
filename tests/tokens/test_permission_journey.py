"""Journey 4: reading groups without the permission is diagnosed, the grant is made in the sandbox,
Re-fetch token shows the permission gained, and the read then works. Also: a re-fetch without the
grant changes the diagnosis instead of repeating it."""

from __future__ import annotations

import pytest

from connections.models import AuditEntry, ConnectionToken, GraphRefusal
from tests.factories import detail

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def groups_app(sandbox_app):
    """Like the demo app: only User.Read.All granted; group permissions requested, not granted."""
    return sandbox_app(roles=["User.Read.All"], requested_roles=["Group.Read.All", "GroupMember.Read.All"])


@pytest.fixture
def groups_connection(sandbox_connection, team_a, groups_app):
    return sandbox_connection(team_a, groups_app, name="groups", entity="groups")


def grant(sandbox, app, *roles):
    sandbox.control.post(f"/_sandbox/apps/{app['client_id']}/grants", {"roles": list(roles)})


@pytest.mark.smoke
def test_grant_then_refetch_says_what_was_gained_and_the_read_works(
    clean_sandbox, groups_app, groups_connection, operator_a, login, run_job
):
    client = login(operator_a)

    failed = run_job(client, groups_connection, "test")
    assert failed.state == "failed"
    diagnosis = failed.result["diagnosis"]
    assert diagnosis["key"] == "graph.permission_missing"
    assert diagnosis["missing"][0] == "Group.ReadBasic.All"  # least privileged (Microsoft's mark)
    assert "Group.Read.All" in diagnosis["explanation"]  # accepted too
    assert "refetch_token" in [step["action"] for step in diagnosis["steps"]]
    page = detail(client, groups_connection)
    assert 'data-diagnosis="graph.permission_missing"' in page and "Group.ReadBasic.All" in page
    assert "/_sandbox/portal" in page  # the sandbox portal stands in for the API permissions page

    grant(clean_sandbox, groups_app, "Group.Read.All")
    refetched = run_job(client, groups_connection, "token_refetch")
    assert refetched.state == "succeeded", refetched.error
    assert refetched.result["gained"] == ["Group.Read.All"]
    assert refetched.result["reassessed"]["key"] == "graph.permission_now_in_token"
    page = detail(client, groups_connection)
    assert "gained Group.Read.All" in page
    assert "The new token carries Group.Read.All" in page
    assert AuditEntry.objects.filter(
        connection=groups_connection, action="token_refetched", detail__contains="gained Group.Read.All"
    ).exists()

    passed = run_job(client, groups_connection, "test")
    assert passed.state == "succeeded", passed.error
    assert passed.result["ok"] and passed.result["status"] == 200
    assert passed.result["item_status"] == 200
    assert not GraphRefusal.objects.filter(connection=groups_connection).exists()
    page = detail(client, groups_connection)
    assert "No problems recorded" in page and "Read groups: HTTP 200" in page


def test_refetch_without_the_grant_changes_the_diagnosis(clean_sandbox, groups_connection, operator_a, login, run_job):
    client = login(operator_a)
    first = run_job(client, groups_connection, "test").result["diagnosis"]

    refetched = run_job(client, groups_connection, "token_refetch")

    assert refetched.state == "succeeded" and refetched.result["gained"] == []
    after = refetched.result["reassessed"]
    assert after["key"] == "graph.permission_still_missing"
    assert after["title"] != first["title"] and after["explanation"] != first["explanation"]
    assert "has not reached new tokens yet" in after["explanation"]
    page = detail(client, groups_connection)
    assert 'data-diagnosis="graph.permission_still_missing"' in page
    assert 'data-diagnosis="graph.permission_missing"' not in page


def test_with_readable_grants_the_page_compares_granted_with_the_token(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, login, run_job
):
    """An app that may read its own grants (Application.Read.All): granted vs in the token."""
    app = sandbox_app(roles=["User.Read.All", "Application.Read.All"])
    conn = sandbox_connection(team_a, app, name="groups", entity="groups")
    client = login(operator_a)

    first = run_job(client, conn, "test").result["diagnosis"]
    assert first["key"] == "graph.permission_not_granted"

    grant(clean_sandbox, app, "GroupMember.Read.All")
    stale = run_job(client, conn, "test").result["diagnosis"]  # the saved token predates the grant
    assert stale["key"] == "graph.granted_not_in_token"
    page = detail(client, conn)
    assert "Granted to the app (admin consent):" in page and "GroupMember.Read.All" in page

    assert run_job(client, conn, "token_refetch").result["gained"] == ["GroupMember.Read.All"]
    assert run_job(client, conn, "test").state == "succeeded"
    conn.refresh_from_db()
    assert conn.secret_expires_on is not None  # read from the app's passwordCredentials


def test_token_panel_says_granted_but_not_in_this_token(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, login, run_job
):
    """An app that may read its own grants: after an admin grants more, the panel says a
    re-fetch would add it — before any read fails."""
    app = sandbox_app(roles=["User.Read.All", "Application.Read.All"])
    connection = sandbox_connection(team_a, app, name="self-aware", entity="users")
    client = login(operator_a)
    assert run_job(client, connection, "token_fetch").state == "succeeded"
    row = ConnectionToken.objects.get(connection=connection)
    assert row.granted == ["Application.Read.All", "User.Read.All"]
    assert "Granted, but not in this token" not in detail(client, connection)

    grant(clean_sandbox, app, "Group.Read.All")
    assert run_job(client, connection, "token_fetch").result["cached"] is True  # same token, grants re-read

    row.refresh_from_db()
    assert row.granted_not_in_token == ["Group.Read.All"]
    page = detail(client, connection)
    assert "Granted, but not in this token: <strong>Group.Read.All</strong>" in page

    assert run_job(client, connection, "token_refetch").result["gained"] == ["Group.Read.All"]
    assert "Granted, but not in this token" not in detail(client, connection)


def test_token_panel_says_when_grants_are_unreadable(clean_sandbox, groups_connection, operator_a, login, run_job):
    client = login(operator_a)
    assert run_job(client, groups_connection, "token_fetch").state == "succeeded"
    assert ConnectionToken.objects.get(connection=groups_connection).granted is None
    assert "may not read its own permission grants" in detail(client, groups_connection)


def test_get_access_token_after_a_refusal_fetches_a_token_with_the_grant(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, login, run_job
):
    """The walkthrough people arrive with: Graph says permission denied, an admin grants more, and
    the person presses Get access token again. Graph refused the saved token, so a new one is
    fetched (not the cached one, which lacks the grant) and says what it gained."""
    app = sandbox_app(roles=["User.Read.All"])
    connection = sandbox_connection(team_a, app, name="walkthrough", entity="groups")
    client = login(operator_a)
    assert run_job(client, connection, "test").state == "failed"  # 403: no group permission
    grant(clean_sandbox, app, "GroupMember.Read.All")
    fetched = run_job(client, connection, "token_fetch")
    assert fetched.state == "succeeded"
    assert not fetched.result.get("cached")
    assert fetched.result["gained"] == ["GroupMember.Read.All"]
    assert run_job(client, connection, "test").state == "succeeded"
    # The refusal is resolved: the next Get access token takes the saved token again.
    assert run_job(client, connection, "token_fetch").result["cached"] is True
