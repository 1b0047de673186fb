"""/metrics: refused without the token; after a sync, a failing token fetch and a credential near
expiry, the scrape shows each figure (read from the database, so a worker's work counts too)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from connections import tokens
from tests.factories import make_schedule

pytestmark = pytest.mark.django_db

TOKEN = "metrics-scrape-token-0123456789"


@pytest.fixture
def scrape_token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []


def scrape() -> dict[str, list]:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list], name: str, **labels: str) -> float:
    found = [s.value for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, samples.get(name))
    return found[0]


def test_metrics_are_refused_without_the_token(scrape_token, db):
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert Client().post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code in (401, 405)


def test_metrics_need_configuring_and_an_allow_list_works(settings, db):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []
    assert Client().get("/metrics").status_code == 401
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert Client().get("/metrics").status_code == 401
    settings.METRICS_ALLOWED_IPS = ["127.0.0.0/8"]
    assert Client().get("/metrics").status_code == 200


def test_a_sync_a_failing_token_fetch_and_a_near_expiry_credential_show_in_the_scrape(
    scrape_token, sandbox_connection, team_a, operator_a, sync_inline
):
    synced = sandbox_connection(team_a, name="synced")
    run = sync_inline(synced, operator_a)
    assert run.status == "succeeded"
    make_schedule(synced)
    broken = sandbox_connection(team_a, name="broken", secret="wrong-secret-value~0123456789abcdef")
    assert not tokens.fetch_token(broken, force=True).ok
    expiring = sandbox_connection(team_a, name="expiring", secret_expires_on=timezone.localdate() + timedelta(days=3))

    samples = scrape()
    team = "team-a"
    ok = {"connection": str(synced.pk), "team": team}
    assert value(samples, "graphconn_syncs_total", result="succeeded", **ok) == 1
    assert value(samples, "graphconn_sync_duration_seconds_count", **ok) == 1
    assert value(samples, "graphconn_sync_rows_sum", **ok) == run.rows
    assert value(samples, "graphconn_sync_rows_bucket", le="+Inf", **ok) == 1
    assert value(samples, "graphconn_token_fetches_total", result="ok", **ok) >= 1
    assert value(samples, "graphconn_token_fetches_total", result="failed", connection=str(broken.pk), team=team) == 1
    assert value(samples, "graphconn_connection_failing", connection=str(broken.pk), team=team) == 1
    assert value(samples, "graphconn_connection_failing", **ok) == 0
    # What the sync spent of Graph's throttle budget, as its run page shows it.
    run.refresh_from_db()
    assert run.resource_units > 0
    assert value(samples, "graphconn_graph_resource_units_total", **ok) == run.resource_units
    assert value(samples, "graphconn_graph_throttled_runs_total", **ok) == 0
    seconds = value(samples, "graphconn_credential_expiry_seconds", connection=str(expiring.pk), team=team)
    assert 2 * 86400 < seconds <= 3 * 86400
    assert 0 <= value(samples, "graphconn_last_success_age_seconds", **ok) < 3600
    assert value(samples, "graphconn_schedule_interval_seconds", **ok) == 3600
    assert value(samples, "graphconn_runs_queued") == 0
    assert "graphconn_jobs_queued" in samples

    # Labels are ids and team slugs only: no names, secrets or people.
    text = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    for private in ("synced", "broken", "expiring", "wrong-secret", "operator_a", synced.client_id):
        assert f'"{private}"' not in text and private + "," not in text


def test_worker_heartbeat_age_and_waiting_runs(scrape_token, connection_a, operator_a):
    from connections import syncs
    from connections.models import WorkerHeartbeat

    WorkerHeartbeat.objects.create(hostname="w1", last_seen=timezone.now() - timedelta(seconds=30))
    syncs.start(connection_a, operator_a)
    samples = scrape()
    assert 29 <= value(samples, "graphconn_worker_heartbeat_age_seconds") < 120
    assert value(samples, "graphconn_runs_queued") == 1
    assert value(samples, "graphconn_jobs_queued") >= 1


def test_the_documented_scrape_config_and_alert_rules_parse_and_name_exported_metrics():
    import json
    import re
    from pathlib import Path

    import yaml

    docs = Path(__file__).resolve().parents[2] / "docs"
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", (docs / "api.md").read_text(), re.S)]
    scrape = next(b for b in blocks if "scrape_configs" in b)["scrape_configs"][0]
    assert scrape["metrics_path"] == "/metrics" and scrape["authorization"]["type"] == "Bearer"
    rules = next(b for b in blocks if "groups" in b)["groups"][0]["rules"]
    assert len(rules) == 3
    exported = set(
        re.findall(
            r'"(graphconn_[a-z_]+)"', (Path(__file__).resolve().parents[2] / "connections/api/metrics.py").read_text()
        )
    )
    for rule in rules:
        assert set(re.findall(r"graphconn_[a-z_]+", rule["expr"])) <= exported, rule["expr"]
    dashboard = json.loads((docs / "grafana-dashboard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names = {re.sub(r"_(bucket|total)$", "", n) for n in re.findall(r"graphconn_[a-z_]+", target["expr"])}
            assert names <= {re.sub(r"_total$", "", n) for n in exported}, target["expr"]


def test_a_malformed_allow_list_is_a_clear_startup_error(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(__file__).resolve().parents[2],
        env={**env, "METRICS_ALLOWED_IPS": "10.0.0.0/8,prometheus.local", "VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "METRICS_ALLOWED_IPS: 'prometheus.local' is not an address or network" in result.stderr
