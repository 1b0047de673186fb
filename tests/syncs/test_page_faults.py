"""Bad minutes at Graph: with about 30 % of page requests failing (429 with and without Retry-After,
500, 502, 503, 504), every run still gives the clean snapshot; the wait is shown on the run."""

from __future__ import annotations

import pytest

from connections.models import SyncRun, SyncStage
from connections.syncs import reader
from tests.factories import sandbox_listing

pytestmark = pytest.mark.django_db

RUNS = 20


@pytest.fixture
def enabled_users(sandbox_connection, team_a, settings):
    settings.SYNC_PAGE_BACKOFF_BASE, settings.SYNC_PAGE_BACKOFF_CAP = 0.02, 0.2  # keep the test quick
    settings.WORKER_HEARTBEAT_SECONDS = 1
    # A $filter keeps every run a full, paged read (no delta), so each run reads every page again.
    return sandbox_connection(team_a, odata_filter="accountEnabled eq true", odata_select="id,displayName,mail")


def snapshot(run: SyncRun) -> set[tuple[str, str]]:
    return set(run.records.values_list("key", "digest"))


@pytest.mark.slow  # twenty runs; one faulty run is in test_versioned_store.py for every `make test`
def test_thirty_percent_faults_over_twenty_runs_give_identical_snapshots(
    clean_sandbox, enabled_users, operator_a, sync_inline
):
    clean = sync_inline(enabled_users, operator_a, page_size=40)
    assert clean.status == "succeeded" and clean.pages >= 3
    expected = snapshot(clean)
    listed = sandbox_listing(clean_sandbox, **{"$filter": "accountEnabled eq true"})
    assert {key for key, _ in expected} == {u["id"] for u in listed}

    # 5 % throttled with Retry-After: 1, and about 26 % of 429/500/502/503/504 without it: ~30 % in all.
    control = clean_sandbox.control
    control.post(
        "/_sandbox/faults",
        {"path": "/v1.0/users", "status": 429, "retry_after": 1, "rate": 0.05, "count": 10_000, "seed": 11},
    )
    control.post(
        "/_sandbox/faults",
        {
            "path": "/v1.0/users",
            "statuses": [429, 500, 502, 503, 504],
            "retry_after": None,
            "rate": 0.265,
            "count": 10_000,
            "seed": 12,
        },
    )
    before = control.get("/_sandbox/requests")["total"]

    runs = [sync_inline(enabled_users, operator_a, page_size=40) for _ in range(RUNS)]

    assert [run.status for run in runs] == ["succeeded"] * RUNS, [r.error.get("title") for r in runs]
    assert all(snapshot(run) == expected for run in runs)
    requests = control.get("/_sandbox/requests")["total"] - before
    pages = sum(run.pages for run in runs)
    failed = requests - pages
    assert 0.2 < failed / requests < 0.4, (failed, requests)  # the faults really struck about 30 %


def test_the_wait_before_a_page_is_asked_again_is_shown_on_the_run(
    clean_sandbox, enabled_users, operator_a, sync_inline, monkeypatch
):
    shown: list[str] = []
    wait = reader.PageReader._wait

    def recording(reader, seconds, message):
        shown.append(message)
        wait(reader, seconds, message)

    monkeypatch.setattr(reader.PageReader, "_wait", recording)
    clean_sandbox.control.post(
        "/_sandbox/faults", {"path": "/v1.0/users", "status": 503, "count": 2, "retry_after": None}
    )
    run = sync_inline(enabled_users, operator_a, page_size=40)

    assert run.status == "succeeded", run.error
    assert shown[0].startswith("Graph answered HTTP 503: trying page 1 again in")
    assert "try 3" in shown[1] and "gives up 120 s after the first try" in shown[1]


def test_a_page_unavailable_past_its_budget_fails_the_run_with_a_diagnosis(
    clean_sandbox, enabled_users, operator_a, sync_inline, settings
):
    settings.SYNC_PAGE_RETRY_SECONDS = 1
    clean_sandbox.control.post("/_sandbox/faults", {"path": "/v1.0/users", "status": 504, "count": 1000})
    run = sync_inline(enabled_users, operator_a, page_size=40)

    assert run.status == "failed"
    assert run.error["key"] == "graph.server_error"
    assert run.rows == 0 and not run.records.exists() and not SyncStage.objects.filter(run=run).exists()
