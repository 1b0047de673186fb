"""Journey 2 through the buttons: Get access token on v1 and v2 endpoints, stored encrypted,
claims shown, the token itself never in the page."""

from __future__ import annotations

import time

import pytest
from django.db import connection as db
from django.urls import reverse

from connections import tasks
from connections.models import ConnectionToken, Job, TokenFetch
from tests.factories import JOB_ID, detail, token_requests

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.smoke
@pytest.mark.parametrize("version", ["v2", "v1"])
def test_get_access_token_button_stores_an_encrypted_token_and_shows_its_claims(
    version, clean_sandbox, sandbox_connection, team_a, operator_a, login, run_job
):
    conn = sandbox_connection(team_a, version=version)
    client = login(operator_a)

    job = run_job(client, conn, "token_fetch")

    assert job.state == "succeeded", job.error
    assert job.result["ok"] and not job.result["cached"]
    assert job.result["permissions"] == ["User.Read.All"]
    token = ConnectionToken.objects.get(connection=conn)
    assert token.is_valid and token.kind == "app"
    plain = token.access_token
    assert plain.count(".") == 2  # a JWT
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT access_token FROM connections_connectiontoken WHERE connection_id = %s",
            [conn.pk.hex if db.vendor == "sqlite" else conn.pk],
        )
        stored = cursor.fetchone()[0]
    assert stored and plain not in stored and plain.split(".")[1] not in stored

    page = detail(client, conn)
    assert clean_sandbox.tenant_id in page  # tenant claim
    assert clean_sandbox.client_id in page  # app claim
    assert "https://sts.windows.net/" in page  # issuer
    assert "User.Read.All" in page  # roles
    assert "Application (app-only)" in page
    assert "<code>https://graph.microsoft.com</code>" in page  # audience
    assert 'class="countdown"' in page
    assert plain not in page and plain.split(".")[1] not in page
    assert TokenFetch.objects.filter(connection=conn, ok=True).count() == 1


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_second_get_reuses_the_saved_token_and_refetch_ignores_it(
    version, clean_sandbox, sandbox_connection, team_a, operator_a, login, run_job
):
    conn = sandbox_connection(team_a, version=version)
    client = login(operator_a)
    run_job(client, conn, "token_fetch")
    first = ConnectionToken.objects.get(connection=conn).access_token

    again = run_job(client, conn, "token_fetch")
    assert again.result["cached"] is True
    assert token_requests(clean_sandbox, clean_sandbox.client_id) == 1

    refetched = run_job(client, conn, "token_refetch")
    assert refetched.state == "succeeded" and refetched.result["cached"] is False
    assert token_requests(clean_sandbox, clean_sandbox.client_id) == 2
    assert ConnectionToken.objects.get(connection=conn).access_token != first


def test_job_fragment_polls_until_finished_then_tells_the_page(
    clean_sandbox, sandbox_connection, team_a, operator_a, login, live_worker, wait_for_job
):
    conn = sandbox_connection(team_a)
    client = login(operator_a)
    clean_sandbox.control.post(
        "/_sandbox/faults",
        {  # a slow token endpoint: time to see "running"
            "path": f"/{clean_sandbox.tenant_id}/oauth2/v2.0/token",
            "delay_ms": 1500,
            "count": 1,
        },
    )
    response = client.post(reverse("connections:token_fetch", args=[conn.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'hx-trigger="every 1s' in html and 'data-state="queued"' in html
    job_id = JOB_ID.search(html).group(1)
    status_url = reverse("connections:job_status", args=[conn.pk, job_id])
    assert status_url in html

    deadline = time.monotonic() + 10
    while "Requesting a token from Entra ID" not in (polled := client.get(status_url).content.decode()):
        assert time.monotonic() < deadline, polled
        time.sleep(0.05)
    assert 'data-state="running"' in polled and 'hx-get="' + status_url in polled

    wait_for_job(job_id)
    done = client.get(status_url, HTTP_HX_REQUEST="true")
    assert done.status_code == 200
    assert done["HX-Trigger"] == "connection-changed"
    body = done.content.decode()
    assert "hx-trigger" not in body and "hx-get" not in body
    assert "New token" in body and "Succeeded" in body
    panel = client.get(reverse("connections:token_panel", args=[conn.pk])).content.decode()
    assert f'id="job-{job_id}"' in panel and "New token" in panel  # the result stays in view
    assert 'hx-get="' + status_url not in panel  # and does not poll again


def test_test_connection_reads_one_item_and_recovers_from_a_refused_token(
    clean_sandbox, sandbox_connection, team_a, operator_a, login, run_job
):
    """Graph answers 401 to a damaged saved token: the test re-fetches once and reads."""
    conn = sandbox_connection(team_a)
    client = login(operator_a)
    run_job(client, conn, "token_fetch")
    row = ConnectionToken.objects.get(connection=conn)
    header, payload, _ = row.access_token.split(".")
    row.access_token = f"{header}.{payload}.bm90LWEtc2lnbmF0dXJl"
    row.save(update_fields=["access_token"])

    job = run_job(client, conn, "test")

    assert job.state == "succeeded", job.error
    assert job.result["refetched"] is True and job.result["status"] == 200 and job.result["item_status"] == 200
    assert job.result["sample"]["id"]
    page = detail(client, conn)
    assert "Read users: HTTP 200" in page and "re-fetched automatically" in page
    assert TokenFetch.objects.filter(connection=conn, reason="expired", ok=True).count() == 1
    requests = clean_sandbox.control.get("/_sandbox/requests")["by_path"]
    assert requests["/v1.0/users"] == 2  # refused once, then read with the new token


def test_token_tasks_are_acks_late_and_a_redelivered_job_sends_nothing_twice(clean_sandbox, sandbox_connection, team_a):
    assert tasks.fetch_token.acks_late and tasks.test_connection.acks_late
    conn = sandbox_connection(team_a)
    job = Job.objects.create(kind="token_fetch", connection=conn)
    first = tasks.fetch_token(str(job.pk), str(conn.pk))
    again = tasks.fetch_token(str(job.pk), str(conn.pk))  # the broker delivered it a second time
    assert first["ok"] and again["ok"] and again["cached"]
    assert token_requests(clean_sandbox, clean_sandbox.client_id) == 1
    assert TokenFetch.objects.filter(connection=conn).count() == 1
