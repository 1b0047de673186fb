"""Who may press what (journey 7 for the token layer), and the audit trail of token work."""

from __future__ import annotations

import pytest
from django.urls import reverse

from connections.models import AuditEntry, ConnectionToken, Job
from tests.cast import SECRET_A
from tests.factories import audit_trail, detail

pytestmark = pytest.mark.django_db(transaction=True)

POSTS = ["token_fetch", "token_refetch", "test", "oauth_start"]


@pytest.fixture
def fetched(clean_sandbox, sandbox_connection, team_a, operator_a, login, run_job):
    """A connection of team A with a token and a failed read (a diagnosis to show)."""
    conn = sandbox_connection(team_a, name="groups", entity="groups")
    job = run_job(login(operator_a), conn, "test")
    assert job.state == "failed"
    return conn, job


def test_viewer_sees_token_and_diagnosis_but_no_buttons_and_gets_403_on_posts(fetched, viewer_a, login):
    conn, job = fetched
    client = login(viewer_a)

    page = detail(client, conn)
    assert "User.Read.All" in page and 'data-diagnosis="graph.permission_missing"' in page
    assert "your role in" in page.lower() and "viewer" in page
    for name in POSTS:
        assert reverse(f"connections:{name}", args=[conn.pk]) not in page
    for name in POSTS:
        assert client.post(reverse(f"connections:{name}", args=[conn.pk])).status_code == 403
    assert client.get(reverse("connections:job_status", args=[conn.pk, job.pk])).status_code == 200
    assert client.get(reverse("connections:token_panel", args=[conn.pk])).status_code == 200
    assert Job.objects.filter(connection=conn).count() == 1


def test_another_team_gets_404_for_every_token_url(fetched, outsider, login):
    conn, job = fetched
    client = login(outsider)
    for name in POSTS:
        assert client.post(reverse(f"connections:{name}", args=[conn.pk])).status_code == 404
    assert client.get(reverse("connections:job_status", args=[conn.pk, job.pk])).status_code == 404
    assert client.get(reverse("connections:token_panel", args=[conn.pk])).status_code == 404


def test_a_job_of_another_connection_is_404_through_mine(fetched, sandbox_connection, team_a, viewer_a, login):
    conn, job = fetched
    mine = sandbox_connection(team_a, name="other")
    assert login(viewer_a).get(reverse("connections:job_status", args=[mine.pk, job.pk])).status_code == 404


def test_fetch_refetch_and_test_are_audited_without_token_or_secret(
    clean_sandbox, sandbox_connection, team_a, operator_a, login, run_job
):
    conn = sandbox_connection(team_a, secret=None)
    client = login(operator_a)
    run_job(client, conn, "token_fetch")
    run_job(client, conn, "token_refetch")
    run_job(client, conn, "test")

    entries = AuditEntry.objects.filter(connection=conn)
    actions = list(entries.order_by("at", "id").values_list("action", flat=True))
    assert actions == ["token_fetched", "token_refetched", "tested"]
    assert all(e.username == "operator_a" for e in entries)
    token = ConnectionToken.objects.get(connection=conn).access_token
    secret = clean_sandbox.client_secret
    for entry in entries:
        text = f"{entry.detail} {entry.fields} {entry.changes}"
        assert token.split(".")[1] not in text and secret not in text and SECRET_A not in text
    trail = audit_trail(client, conn)
    assert "Re-fetched the token" in trail and "Tested the connection" in trail


def test_the_audit_trail_is_read_when_its_section_opens_and_again_when_a_job_finishes(fetched, viewer_a, login):
    """The detail page leaves the closed trail unread (it loads on first opening, then re-renders on
    connection-changed); a viewer may read it, and a browser without scripts gets it as a page."""
    connection, _ = fetched
    client = login(viewer_a)
    page = detail(client, connection)
    section = page.split('id="audit"')[1][:600]
    assert 'hx-trigger="toggle once from:closest details, connection-changed from:body"' in section
    assert "Fetched a token" not in page
    fragment = audit_trail(client, connection)
    assert "Fetched a token" in fragment and SECRET_A not in fragment
    assert 'hx-trigger="connection-changed from:body"' in fragment and "<html" not in fragment
    response = client.get(reverse("connections:audit_trail", args=[connection.pk]))
    assert response.status_code == 200
    assert "Fetched a token" in response.content.decode() and "<html" in response.content.decode()
