"""The sync engine against the real sandbox, run in the test process: paging by nextLink, throttling,
server errors, delta runs and the change set, idempotence."""

from __future__ import annotations

import pytest

from connections import tasks
from connections.models import AuditEntry, ConnectionToken, GraphRefusal, Job, SyncRun, SyncStage, SyncVersion
from connections.syncs import lifecycle, reader, results, runner
from tests.factories import make_run, sandbox_listing

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(sandbox_connection, team_a):
    return sandbox_connection(team_a, odata_select="id,displayName,jobTitle,userPrincipalName")


def keys(run: SyncRun) -> set[str]:
    return set(run.records.values_list("key", flat=True))


def test_a_small_page_follows_every_next_link(clean_sandbox, users, operator_a, sync_inline):
    run = sync_inline(users, operator_a, page_size=40)

    listed = sandbox_listing(clean_sandbox)
    assert run.status == "succeeded", run.error
    assert run.pages == 7 and run.rows == len(listed) == 250  # 6 full pages of 40 and one of 10
    assert run.total == 250  # @odata.count of the first page
    assert keys(run) == {u["id"] for u in listed}
    assert run.bytes > 250 * 50
    assert run.mode == "full" and run.delta_link  # the next run can be a delta
    record = run.records.first()
    assert set(record.data) == {"id", "displayName", "jobTitle", "userPrincipalName"}
    job = Job.objects.get(pk=run.job_id)
    assert job.progress == 99 or job.message.startswith("7 pages")
    entry = AuditEntry.objects.get(connection=users, action="synced")
    assert "succeeded, 250 rows" in entry.detail and entry.username == "operator_a"


def test_a_throttled_page_is_retried_and_the_run_succeeds(
    clean_sandbox, sandbox_connection, team_a, operator_a, sync_inline
):
    # A $filter makes it a plain read (no delta link is asked), so the first request is the first page.
    conn = sandbox_connection(team_a, odata_filter="accountEnabled eq true")
    clean_sandbox.control.post("/_sandbox/faults", {"path": "/v1.0/users", "status": 429, "count": 1, "retry_after": 1})
    run = sync_inline(conn, operator_a, page_size=100)

    assert run.status == "succeeded", run.error
    assert run.rows == len(sandbox_listing(clean_sandbox, **{"$filter": "accountEnabled eq true"}))
    assert clean_sandbox.control.get("/_sandbox/faults") == []  # the 429 was served


def test_a_long_retry_after_is_waited_in_the_task_and_then_the_run_gives_up(
    clean_sandbox, sandbox_connection, team_a, operator_a, sync_inline, settings
):
    settings.SYNC_PAGE_RETRY_SECONDS = 3  # a Retry-After past the page's budget is not waited
    conn = sandbox_connection(team_a, odata_filter="accountEnabled eq true")
    clean_sandbox.control.post("/_sandbox/faults", {"path": "/v1.0/users", "status": 429, "count": 1, "retry_after": 1})
    waited = sync_inline(conn, operator_a)
    assert waited.status == "succeeded", waited.error

    clean_sandbox.control.post(
        "/_sandbox/faults", {"path": "/v1.0/users", "status": 429, "count": 50, "retry_after": 5}
    )
    gave_up = sync_inline(conn, operator_a)
    assert gave_up.status == "failed"
    assert gave_up.error["key"] == "graph.throttled"
    assert "Retry-After" in dict(gave_up.error["evidence"])
    assert gave_up.records.count() == 0


def test_a_lasting_server_error_fails_the_run_with_a_diagnosis(clean_sandbox, users, operator_a, sync_inline, settings):
    settings.SYNC_PAGE_RETRY_SECONDS, settings.SYNC_PAGE_BACKOFF_BASE = 0.5, 0.05
    clean_sandbox.control.post("/_sandbox/faults", {"path": "/v1.0/users", "status": 503, "count": 50})
    run = sync_inline(users, operator_a)

    assert run.status == "failed" and run.finished_at
    assert run.error["key"] == "graph.server_error"
    assert "503" in dict(run.error["evidence"])["HTTP status"]
    assert Job.objects.get(pk=run.job_id).state == "failed"
    assert AuditEntry.objects.filter(connection=users, action="synced", detail__contains="failed").exists()
    # A server error is not a permission problem: the connection's diagnostics stay clean.
    assert not GraphRefusal.objects.filter(connection=users).exists()


def test_a_second_run_reads_only_the_changes_and_knows_what_changed(clean_sandbox, users, operator_a, sync_inline):
    first = sync_inline(users, operator_a)
    listed = sandbox_listing(clean_sandbox)
    changed, removed = listed[3], listed[7]
    clean_sandbox.control.patch(f"/_sandbox/users/{changed['id']}", {"jobTitle": "Chief Sync Officer"})
    clean_sandbox.control.delete(f"/_sandbox/users/{removed['id']}")
    added = clean_sandbox.control.post(
        "/_sandbox/users", {"displayName": "Nova Delta", "userPrincipalName": "nova.delta@example.test"}
    )

    second = sync_inline(users, operator_a)

    assert second.status == "succeeded", second.error
    assert second.mode == "delta" and second.previous_id == first.pk
    assert (second.added, second.changed, second.removed) == (1, 1, 1)
    assert second.rows == 250 and keys(second) == {u["id"] for u in sandbox_listing(clean_sandbox)}
    assert second.records.get(key=changed["id"]).data["jobTitle"] == "Chief Sync Officer"
    [change] = results.changes(second, "changed")
    assert change.key == changed["id"] and [f[0] for f in change.fields] == ["jobTitle"]
    assert change.fields[0][2] == "Chief Sync Officer"
    assert [c.key for c in results.changes(second, "added")] == [added["id"]]
    assert [c.key for c in results.changes(second, "removed")] == [removed["id"]]

    third = sync_inline(users, operator_a)
    assert third.mode == "delta" and (third.added, third.changed, third.removed) == (0, 0, 0)
    assert third.rows == 250


def test_an_expired_delta_token_falls_back_to_a_full_read(clean_sandbox, users, operator_a, sync_inline):
    sync_inline(users, operator_a)
    clean_sandbox.control.post("/_sandbox/settings", {"delta_token_lifetime_seconds": 0})

    run = sync_inline(users, operator_a)

    assert run.status == "succeeded", run.error
    assert run.mode == "full" and run.rows == 250
    assert (run.added, run.changed, run.removed) == (0, 0, 0)


def test_a_redelivered_task_does_not_run_a_finished_run_again(clean_sandbox, users, operator_a, sync_inline):
    run = sync_inline(users, operator_a)
    requests_before = clean_sandbox.control.get("/_sandbox/requests")["total"]

    again = tasks.sync_entity(str(run.job_id), str(users.pk), str(run.pk))  # the broker delivered it again

    assert tasks.sync_entity.acks_late
    assert again["skipped"] and again["ok"]
    assert clean_sandbox.control.get("/_sandbox/requests")["total"] == requests_before
    assert run.records.count() == 250


def test_one_active_run_per_connection(users, operator_a):
    from connections import syncs

    first = syncs.start(users, operator_a).job
    second = syncs.start(users, operator_a).job

    assert first.pk == second.pk
    assert SyncRun.objects.filter(connection=users).count() == 1


def test_a_refused_token_is_refetched_once_and_the_run_goes_on(clean_sandbox, users, operator_a, sync_inline):
    from connections import tokens
    from connections.models import TokenFetch

    tokens.ensure_token(users)
    row = ConnectionToken.objects.get(connection=users)
    header, payload, _ = row.access_token.split(".")
    row.access_token = f"{header}.{payload}.bm90LWEtc2lnbmF0dXJl"  # Graph refuses the signature: 401
    row.save(update_fields=["access_token"])

    run = sync_inline(users, operator_a)

    assert run.status == "succeeded", run.error
    assert run.rows == 250
    assert TokenFetch.objects.filter(connection=users, reason="expired", ok=True).count() == 1


def test_a_run_in_progress_is_not_started_twice_but_a_stale_one_is_taken_over(clean_sandbox, users, operator_a):
    from datetime import timedelta

    from django.utils import timezone

    from connections import syncs

    job = syncs.start(users, operator_a).job
    run = SyncRun.objects.get(job=job)
    SyncRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=timezone.now())

    busy = runner.run_sync(users, run, str(job.pk))
    assert busy["skipped"] and busy["status"] == "running"
    assert clean_sandbox.control.get("/_sandbox/requests")["total"] == 0

    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=lifecycle.stale_before() - timedelta(seconds=1))
    taken_over = runner.run_sync(users, run, str(job.pk))
    assert taken_over["ok"] and taken_over["rows"] == 250


@pytest.mark.django_db(transaction=True)  # foreign keys checked per statement, as in the worker
def test_a_connection_deleted_while_its_sync_runs_ends_the_run_quietly(
    clean_sandbox, users, operator_a, monkeypatch, caplog
):
    # No task is queued: under transaction=True it would reach the broker before the worker's tests.
    run = make_run(users, started_by=operator_a, entity="users")
    progress = runner._progress

    def delete_after_first_page(job_id, run):
        users.delete()  # someone presses Delete on the connection page
        progress(job_id, run)

    monkeypatch.setattr(runner, "_progress", delete_after_first_page)
    result = runner.run_sync(users, run, None, page_size=40)

    assert result == {"ok": False, "run_id": str(run.pk), "deleted": True}
    assert (
        not SyncRun.objects.filter(pk=run.pk).exists()
        and not SyncVersion.objects.exists()
        and not SyncStage.objects.exists()
    )
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


@pytest.mark.parametrize(
    "link",
    [
        "https://graph.microsoft.com/v1.0/users?$skiptoken=RFNwdAIA",  # an allowed host, but not this one
        "https://127.0.0.1:1/v1.0/users?$skiptoken=RFNwdAIA",  # same host, another port
        "http://{host}/v1.0/users?$skiptoken=RFNwdAIA",  # same host, plain http
    ],
)
def test_a_next_link_to_another_host_never_gets_the_token(users, link):
    host = users.service_url.split("/")[2]
    page_reader = reader.PageReader(users, run=None, session=None)

    with pytest.raises(reader.SyncFailed) as failed:
        page_reader.get(link.format(host=host))

    assert failed.value.diagnosis.key == "sync.foreign_link"
    assert "sends the access token only to the service URL's host" in failed.value.diagnosis.explanation
