"""A run whose worker is SIGKILLed, or that an operator cancels, leaves nothing visible; the next run
is exactly right. Real worker processes (one of the test's own, so it can be killed), real sandbox."""

from __future__ import annotations

import pytest
from django.urls import reverse

from connections import syncs
from connections.models import AuditEntry, Job, SyncRun, SyncStage, SyncVersion
from connections.syncs import lifecycle, runner
from tests.factories import make_run, make_sandbox_connection, sandbox_listing, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SELECT = "id,displayName,jobTitle,userPrincipalName"
FILTER = "accountEnabled eq true"  # a filtered read is always a full one: several pages to stop between


def snapshot(run: SyncRun) -> dict[str, dict]:
    return {v.key: v.data for v in run.records}


def listed(sandbox) -> dict[str, dict]:
    return {u["id"]: u for u in sandbox_listing(sandbox, **{"$select": SELECT, "$filter": FILTER})}


def export(client, run: SyncRun) -> bytes:
    response = client.get(reverse("connections:sync_export", args=[run.connection_id, run.pk]), {"format": "jsonl"})
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def change_some(sandbox, users: dict[str, dict]) -> tuple[set[str], set[str]]:
    keys = sorted(users)
    for key in keys[:7]:
        sandbox.control.patch(f"/_sandbox/users/{key}", {"jobTitle": "After the crash"})
    for key in keys[7:9]:
        sandbox.control.delete(f"/_sandbox/users/{key}")
    return set(keys[:7]), set(keys[7:9])


def slow_pages(sandbox) -> None:
    """Every Graph answer takes 1.5 s for a while: time to act between pages."""
    sandbox.control.post("/_sandbox/faults", {"path": "/v1.0/users", "status": None, "count": 6, "delay_ms": 1500})


def test_a_worker_killed_mid_run_leaves_no_partial_data_and_the_next_run_is_exact(
    big, team_a, operator_a, viewer_a, login, sync_inline, own_worker
):
    conn = make_sandbox_connection(big, team_a, name="big users", odata_select=SELECT, odata_filter=FILTER)
    first = sync_inline(conn, operator_a)
    before = listed(big)
    assert first.status == "succeeded" and snapshot(first) == before and first.pages == 3
    client = login(viewer_a)
    exported = export(client, first)
    versions = SyncVersion.objects.count()
    changed, removed = change_some(big, before)
    slow_pages(big)

    run = SyncRun.objects.get(job=syncs.start(conn, operator_a).job)
    wait_until(lambda: SyncStage.objects.filter(run=run).exists(), what="the first page to be staged")
    own_worker.proc.kill()  # SIGKILL: no clean-up code of the worker runs
    own_worker.proc.wait(10)

    run.refresh_from_db()
    assert run.status == "running" and not run.records.exists()
    assert SyncStage.objects.filter(run=run).exists()  # what it staged is there, but seen nowhere:
    assert SyncVersion.objects.count() == versions
    assert snapshot(first) == before and export(client, first) == exported
    page = client.get(reverse("connections:sync_detail", args=[conn.pk, first.pk])).content.decode()
    assert "After the crash" not in page

    lifecycle.interrupt(run, "The worker running this sync stopped.")  # what the reaper does

    run.refresh_from_db()
    assert run.status == "interrupted" and run.message == "The worker running this sync stopped."
    assert not SyncStage.objects.filter(run=run).exists() and not run.records.exists()
    assert Job.objects.get(pk=run.job_id).state == "failed"
    lifecycle.interrupt(run, "again")  # harmless on a finished run
    run.refresh_from_db()
    assert run.message == "The worker running this sync stopped."

    big.control.delete("/_sandbox/faults")
    after = sync_inline(conn, operator_a)

    assert after.status == "succeeded", after.error
    assert after.previous_id == first.pk
    assert (after.added, after.changed, after.removed) == (0, len(changed), len(removed))
    assert snapshot(after) == listed(big) and snapshot(first) == before
    assert SyncVersion.objects.count() == versions + len(changed) + len(removed)


def test_cancel_stops_at_the_next_page_and_keeps_nothing(
    big, team_a, operator_a, viewer_a, login, sync_inline, own_worker
):
    conn = make_sandbox_connection(big, team_a, name="big users", odata_select=SELECT, odata_filter=FILTER)
    first = sync_inline(conn, operator_a)
    before = snapshot(first)
    changed, removed = change_some(big, listed(big))
    versions = SyncVersion.objects.count()
    slow_pages(big)
    operator = login(operator_a)
    detail = reverse("connections:detail", args=[conn.pk])

    run = SyncRun.objects.get(job=syncs.start(conn, operator_a).job)
    wait_until(lambda: SyncStage.objects.filter(run=run).exists(), what="the first page to be staged")
    fragment = operator.get(reverse("connections:sync_progress", args=[conn.pk, run.pk]), HTTP_HX_REQUEST="true")
    assert 'data-action="cancel-sync"' in fragment.content.decode()
    # A viewer may not cancel; the button is not shown to them either.
    viewer = login(viewer_a)
    assert viewer.post(reverse("connections:sync_cancel", args=[conn.pk, run.pk])).status_code == 403
    assert (
        'data-action="cancel-sync"'
        not in viewer.get(
            reverse("connections:sync_progress", args=[conn.pk, run.pk]), HTTP_HX_REQUEST="true"
        ).content.decode()
    )

    answer = operator.post(reverse("connections:sync_cancel", args=[conn.pk, run.pk]), HTTP_HX_REQUEST="true")

    assert answer.status_code == 200 and "Cancelling" in answer.content.decode()
    wait_until(lambda: SyncRun.objects.get(pk=run.pk).status == "cancelled", what="the worker to stop")
    run.refresh_from_db()
    assert run.pages < 3  # it stopped before the last page
    assert not SyncStage.objects.filter(run=run).exists() and not run.records.exists()
    assert SyncVersion.objects.count() == versions and snapshot(first) == before
    assert Job.objects.get(pk=run.job_id).state == "failed"
    assert AuditEntry.objects.filter(connection=conn, detail__contains="cancel asked by operator_a").exists()
    page = operator.get(detail).content.decode()
    assert "Cancelled" in page and "nothing this run read was kept" in page
    assert (
        operator.get(reverse("connections:sync_export", args=[conn.pk, run.pk]), {"format": "csv"}).status_code == 302
    )

    big.control.delete("/_sandbox/faults")
    after = sync_inline(conn, operator_a)
    assert after.previous_id == first.pk
    assert (after.added, after.changed, after.removed) == (0, len(changed), len(removed))
    assert snapshot(after) == listed(big)


def test_a_queued_run_is_cancelled_at_once(sandbox_connection, team_a, operator_a, login):
    conn = sandbox_connection(team_a)
    # No worker consumes this queue in this test: the run stays queued.
    run = make_run(conn, started_by=operator_a, entity="users")

    response = login(operator_a).post(reverse("connections:sync_cancel", args=[conn.pk, run.pk]), follow=True)

    run.refresh_from_db()
    assert run.status == "cancelled" and "Sync cancelled." in response.content.decode()
    assert run.message.startswith("Cancelled by operator_a")
    assert runner.run_sync(conn, run, None)["skipped"]  # a late delivery does nothing
