"""Journeys 3 and 4 through the pages, with the real worker: Sync now, the live progress, every
user stored and exported; a refused groups sync diagnosed, granted, re-fetched and synced."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from django.urls import reverse

from connections import jobs
from connections.models import SyncRun
from tests.factories import press_sync, sandbox_listing

pytestmark = pytest.mark.django_db(transaction=True)


def progress(client, run: SyncRun):
    return client.get(reverse("connections:sync_progress", args=[run.connection_id, run.pk]), HTTP_HX_REQUEST="true")


def export(client, run: SyncRun, fmt: str) -> str:
    response = client.get(reverse("connections:sync_export", args=[run.connection_id, run.pk]), {"format": fmt})
    assert response.status_code == 200 and response.streaming
    assert f".{fmt}" in response["Content-Disposition"]
    return b"".join(response.streaming_content).decode("utf-8")


@pytest.mark.smoke
def test_sync_now_shows_progress_then_every_user_and_exports_them(
    clean_sandbox, sandbox_connection, team_a, operator_a, login, live_worker, wait_for_run
):
    conn = sandbox_connection(team_a)
    client = login(operator_a)
    # Slow answers, so the running state can be seen the way the page sees it.
    clean_sandbox.control.post(
        "/_sandbox/faults", {"path": "/v1.0/users", "status": None, "count": 2, "delay_ms": 1500}
    )
    detail_url = reverse("connections:detail", args=[conn.pk])
    assert "Sync now" in client.get(detail_url).content.decode()

    run = press_sync(client, conn)

    seen_running = False
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        fragment = progress(client, run)
        html = fragment.content.decode()
        run.refresh_from_db()
        if 'data-state="running"' in html:
            seen_running = True
            assert "<progress" in html and 'hx-trigger="every 1s' in html
        if 'data-state="succeeded"' in html or 'data-state="failed"' in html:
            break
        time.sleep(0.2)
    assert seen_running, "the progress fragment never showed the run running"
    assert "hx-trigger" not in html, "a finished run must stop polling"
    assert fragment["HX-Trigger"] == "connection-changed"
    run = wait_for_run(run)
    assert run.status == "succeeded", run.error
    assert "Read 250 rows" in html

    listed = {u["id"] for u in sandbox_listing(clean_sandbox)}
    assert run.rows == len(listed) == 250
    assert set(run.records.values_list("key", flat=True)) == listed

    rows = list(csv.DictReader(io.StringIO(export(client, run, "csv").lstrip("\ufeff"))))
    assert len(rows) == 250 and {r["id"] for r in rows} == listed
    assert rows[0]["displayName"] and "userPrincipalName" in rows[0]
    lines = export(client, run, "jsonl").splitlines()
    assert len(lines) == 250 and {json.loads(line)["id"] for line in lines} == listed

    page = client.get(detail_url).content.decode()
    assert f'data-run="{run.pk}"' in page and "Browse" in page
    listing = client.get(reverse("connections:list")).content.decode()
    assert "250 rows" in listing


def test_groups_refused_then_granted_refetched_and_synced(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, login, live_worker, wait_for_run, wait_for_job
):
    app = sandbox_app(roles=["User.Read.All"], requested_roles=["Group.Read.All", "GroupMember.Read.All"])
    conn = sandbox_connection(team_a, app, name="groups", entity="groups")
    client = login(operator_a)

    failed = wait_for_run(press_sync(client, conn))

    assert failed.status == "failed"
    assert failed.error["key"] == "graph.permission_missing"
    assert failed.error["missing"][0] == "Group.ReadBasic.All"
    assert "refetch_token" in [step["action"] for step in failed.error["steps"]]
    page = client.get(reverse("connections:detail", args=[conn.pk])).content.decode()
    assert 'data-diagnosis="graph.permission_missing"' in page and "Group.ReadBasic.All" in page
    assert failed.error["title"] in page
    run_page = client.get(reverse("connections:sync_detail", args=[conn.pk, failed.pk])).content.decode()
    assert 'data-diagnosis="graph.permission_missing"' in run_page

    clean_sandbox.control.post(f"/_sandbox/apps/{app['client_id']}/grants", {"roles": ["Group.Read.All"]})
    refetched = wait_for_job(jobs.start(conn, "token_refetch", operator_a).pk, timeout=30)
    assert refetched.state == "succeeded" and refetched.result["gained"] == ["Group.Read.All"]
    page = client.get(reverse("connections:detail", args=[conn.pk])).content.decode()
    assert "gained Group.Read.All" in page

    synced = wait_for_run(press_sync(client, conn))

    assert synced.status == "succeeded", synced.error
    assert synced.rows == len(sandbox_listing(clean_sandbox, "groups")) == 30
    page = client.get(reverse("connections:detail", args=[conn.pk])).content.decode()
    assert 'data-diagnosis="graph.permission_missing"' not in page
    assert "Read 30 rows" in page
