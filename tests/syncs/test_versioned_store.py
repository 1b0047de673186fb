"""The versioned store against the real sandbox: exact change sets field by field, one version per
change, every kept run's snapshot equal to what Graph returned then, throttling faults that change
nothing, and retention that keeps exactly the kept runs browsable and exportable."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from connections.models import SyncRun, SyncStage, SyncVersion
from connections.syncs import results, retention
from tests.factories import make_sandbox_connection, sandbox_listing

pytestmark = pytest.mark.django_db

SELECT = "id,displayName,jobTitle,officeLocation,userPrincipalName"


def snapshot(run: SyncRun) -> dict[str, dict]:
    return {v.key: v.data for v in run.records}


def listed(sandbox, select: str = SELECT) -> dict[str, dict]:
    return {
        u["id"]: {k: v for k, v in u.items() if "@" not in k} for u in sandbox_listing(sandbox, **{"$select": select})
    }


@pytest.mark.parametrize("mode", ["delta", "full"])
def test_ten_changed_five_added_three_removed_are_reported_field_by_field_as_18_versions(
    big, team_a, operator_a, sync_inline, mode
):
    conn = make_sandbox_connection(big, team_a, name="big users", odata_select=SELECT)
    first = sync_inline(conn, operator_a)
    assert first.status == "succeeded", first.error
    assert first.rows == 2500 and SyncVersion.objects.count() == 2500
    users = sorted(listed(big).values(), key=lambda u: u["id"])
    changed = {u["id"]: u for u in users[100:110]}
    removed = [u["id"] for u in users[500:503]]
    for number, key in enumerate(changed):
        big.control.patch(f"/_sandbox/users/{key}", {"jobTitle": f"Title {number}", "officeLocation": f"Room {number}"})
    for key in removed:
        big.control.delete(f"/_sandbox/users/{key}")
    added = {
        big.control.post("/_sandbox/users", {"displayName": f"New {n}", "userPrincipalName": f"new{n}@example.test"})[
            "id"
        ]
        for n in range(5)
    }
    if mode == "full":  # Graph forgot the delta state: the run reads everything and compares in SQL
        big.control.post("/_sandbox/settings", {"delta_token_lifetime_seconds": 0})

    second = sync_inline(conn, operator_a)

    assert second.status == "succeeded", second.error
    assert second.mode == mode
    assert (second.added, second.changed, second.removed) == (5, 10, 3)
    assert SyncVersion.objects.count() == 2500 + 18
    assert {c.key for c in results.changes(second, "added")} == added
    assert {c.key for c in results.changes(second, "removed")} == set(removed)
    found = {c.key: c for c in results.changes(second, "changed")}
    assert set(found) == set(changed)
    for number, (key, before) in enumerate(changed.items()):  # in the order they were changed
        assert {name: (old, new) for name, old, new in found[key].fields} == {
            "jobTitle": (before.get("jobTitle"), f"Title {number}"),
            "officeLocation": (before.get("officeLocation"), f"Room {number}"),
        }
    assert snapshot(second) == listed(big) and second.rows == 2502
    assert snapshot(first) == {u["id"]: u for u in users}  # the first run is as it was


def test_every_kept_runs_snapshot_is_what_a_full_read_returned_then(
    clean_sandbox, sandbox_connection, team_a, operator_a, sync_inline
):
    conn = sandbox_connection(team_a, odata_select=SELECT)
    seen: list[tuple[SyncRun, dict]] = []
    for step in range(5):
        if step:
            users = sorted(listed(clean_sandbox))
            clean_sandbox.control.patch(f"/_sandbox/users/{users[step]}", {"jobTitle": f"Step {step}"})
            clean_sandbox.control.delete(f"/_sandbox/users/{users[-step]}")
            clean_sandbox.control.post(
                "/_sandbox/users", {"displayName": f"Step {step}", "userPrincipalName": f"step{step}@example.test"}
            )
        if step == 3:  # one full run among the deltas
            clean_sandbox.control.post("/_sandbox/settings", {"delta_token_lifetime_seconds": 0})
        run = sync_inline(conn, operator_a)
        clean_sandbox.control.post("/_sandbox/settings", {"delta_token_lifetime_seconds": 3600})
        assert run.status == "succeeded", run.error
        seen.append((run, listed(clean_sandbox)))

    assert [run.mode for run, _ in seen] == ["full", "delta", "delta", "full", "delta"]
    for run, expected in seen:
        assert snapshot(run) == expected and run.rows == len(expected)
    assert SyncVersion.objects.count() == 250 + 4 * 3  # per step a changed, an added and a removed one


def test_thirty_percent_throttling_and_unavailability_give_the_same_snapshot(
    clean_sandbox, sandbox_connection, team_a, operator_a, sync_inline
):
    clean = sync_inline(sandbox_connection(team_a, name="clean", odata_select=SELECT), operator_a, page_size=25)
    faulty = sandbox_connection(team_a, name="faulty", odata_select=SELECT)
    # About 30 % of Graph requests answer 429 or 503 with Retry-After (seeded, so the run is repeatable).
    clean_sandbox.control.post(
        "/_sandbox/faults",
        {"path": "/v1.0/users", "status": 429, "count": 500, "retry_after": 0, "rate": 0.15, "seed": 3},
    )
    clean_sandbox.control.post(
        "/_sandbox/faults",
        {"path": "/v1.0/users", "status": 503, "count": 500, "retry_after": 0, "rate": 0.18, "seed": 4},
    )
    requests_before = clean_sandbox.control.get("/_sandbox/requests")["total"]

    run = sync_inline(faulty, operator_a, page_size=25)

    assert run.status == "succeeded", run.error
    refused = clean_sandbox.control.get("/_sandbox/faults")
    assert sum(500 - f["count"] for f in refused) >= 3  # faults were really served
    assert clean_sandbox.control.get("/_sandbox/requests")["total"] - requests_before > run.pages
    assert snapshot(run) == snapshot(clean) and run.rows == clean.rows == 250
    clean_sandbox.control.delete("/_sandbox/faults")
    assert snapshot(run) == listed(clean_sandbox)


@pytest.mark.slow  # twenty-five runs; test_retention.py checks the rule itself for every `make test`
def test_retention_after_25_runs_keeps_exactly_the_kept_runs_browsable_and_exportable(
    clean_sandbox, sandbox_connection, team_a, operator_a, viewer_a, sync_inline, login, settings
):
    settings.SYNC_RUNS_KEPT = 20
    conn = sandbox_connection(team_a, odata_select=SELECT)
    seen: list[tuple[SyncRun, dict]] = []
    users = sorted(listed(clean_sandbox))
    for step in range(25):
        if step:
            clean_sandbox.control.patch(f"/_sandbox/users/{users[step % 50]}", {"jobTitle": f"Run {step}"})
        run = sync_inline(conn, operator_a)
        assert run.status == "succeeded", run.error
        seen.append((run, listed(clean_sandbox)))

    counts = retention.prune_sync_runs()

    pruned, kept = seen[:5], seen[5:]
    assert counts["runs"] == 5
    assert set(SyncRun.objects.filter(connection=conn).values_list("pk", flat=True)) == {r.pk for r, _ in kept}
    # What is left is exactly what the kept runs need: the 250 as of run 6, then one per change, and
    # the version run 6 replaced (the "before" of its change set).
    assert SyncVersion.objects.filter(stream__connection=conn).count() == 250 + 19 + 1
    oldest = kept[0][0]
    [change] = results.changes(oldest, "changed")
    assert [name for name, _, _ in change.fields] == ["jobTitle"]
    client = login(viewer_a)
    for run, expected in kept:
        assert snapshot(run) == expected
        page = client.get(reverse("connections:sync_detail", args=[conn.pk, run.pk]))
        assert page.status_code == 200 and "Page 1 of 5" in page.content.decode()
        export = client.get(reverse("connections:sync_export", args=[conn.pk, run.pk]), {"format": "csv"})
        rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode().lstrip("\ufeff"))))
        assert {r["id"]: r["jobTitle"] for r in rows} == {
            k: results.as_text(v.get("jobTitle")) for k, v in expected.items()
        }
    for run, _ in pruned:
        assert client.get(reverse("connections:sync_detail", args=[conn.pk, run.pk])).status_code == 404
    assert not SyncStage.objects.exists()
