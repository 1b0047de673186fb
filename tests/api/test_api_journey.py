"""From a script, with the real worker: create a personal token on the page, start a sync with it,
poll its job, read the run's changes and export, list the credentials expiring within 30 days,
and see the sync and the worker in the metrics scrape."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.api.conftest import API, TokenClient
from tests.factories import sandbox_listing

pytestmark = pytest.mark.django_db(transaction=True)


def finished(api: TokenClient, job: dict, timeout: float = 60) -> dict:
    """Polls the job's URL, as a script would, until it has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        polled = api.get(job["url"].removeprefix(API)).json()
        if polled["state"] in ("succeeded", "failed"):
            return polled
        time.sleep(0.2)
    raise TimeoutError(f"job {job['id']} still {polled['state']}")


@pytest.mark.smoke
def test_a_script_syncs_reads_changes_exports_and_is_scraped(
    clean_sandbox, sandbox_connection, team_a, operator_a, login, live_worker, settings
):
    conn = sandbox_connection(team_a, secret_expires_on=timezone.localdate() + timedelta(days=20))
    created = login(operator_a).post("/accounts/tokens/new/", {"name": "pipeline", "days": 7})
    api = TokenClient(re.search(r"gcp_[A-Za-z0-9_-]{43}", created.content.decode()).group(0))

    first = finished(api, api.post(f"/connections/{conn.pk}/sync").json())
    assert first["state"] == "succeeded" and first["result"]["ok"]
    listed = sandbox_listing(clean_sandbox)
    clean_sandbox.control.patch(f"/_sandbox/users/{listed[3]['id']}", {"jobTitle": "Chief Pipeline Officer"})
    started = api.post(f"/connections/{conn.pk}/sync")
    assert started.status_code == 202
    second = finished(api, started.json())
    assert second["state"] == "succeeded"

    run = api.get(f"/connections/{conn.pk}/runs/{second['run']}").json()
    assert run["status"] == "succeeded" and run["changed"] == 1 and run["rows"] == len(listed)
    changes = api.get(f"/connections/{conn.pk}/runs/{second['run']}/changes", {"kind": "changed"}).json()
    assert changes["items"][0]["key"] == listed[3]["id"]
    assert {"field": "jobTitle", "before": listed[3].get("jobTitle"), "after": "Chief Pipeline Officer"} in changes[
        "items"
    ][0]["fields"]
    exported = api.get(f"/connections/{conn.pk}/runs/{second['run']}/export", {"format": "jsonl"})
    lines = [json.loads(line) for line in b"".join(exported.streaming_content).decode().splitlines()]
    assert len(lines) == len(listed)

    expiring = api.get("/credentials", {"expires_within_days": 30}).json()
    assert [item["connection"] for item in expiring["items"]] == [str(conn.pk)]
    assert expiring["items"][0]["credential"]["days_left"] == 20

    settings.METRICS_TOKEN = "scrape-me-0123456789"
    text = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me-0123456789").content.decode()
    assert f'graphconn_syncs_total{{connection="{conn.pk}",result="succeeded",team="team-a"}} 2.0' in text
    assert "graphconn_worker_heartbeat_age_seconds" in text
