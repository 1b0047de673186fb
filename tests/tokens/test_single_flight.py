"""Single flight: however many callers ask at once, one connection sends one token request."""

from __future__ import annotations

import threading

import pytest
from django.db import connection as db

from connections import jobs, tasks, tokens
from connections.models import ConnectionToken, Job, TokenFetch
from tests.factories import token_requests

pytestmark = pytest.mark.django_db(transaction=True)

CALLERS = 50


def _in_threads(call, count: int = CALLERS) -> list:
    """Run ``call()`` in ``count`` threads released together; each closes its DB connection."""
    results: list = []
    errors: list[BaseException] = []
    gate = threading.Barrier(count)

    def worker() -> None:
        try:
            gate.wait()
            results.append(call())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors[:3]
    return results


def test_fifty_concurrent_calls_send_one_token_request(clean_sandbox, sandbox_connection, team_a):
    conn = sandbox_connection(team_a)

    outcomes = _in_threads(lambda: tokens.fetch_token(conn, force=False))

    assert len(outcomes) == CALLERS and all(o.ok for o in outcomes)
    assert token_requests(clean_sandbox, clean_sandbox.client_id) == 1
    assert sum(not (o.cached or o.joined) for o in outcomes) == 1
    assert TokenFetch.objects.filter(connection=conn).count() == 1
    assert len({o.token.access_token for o in outcomes}) == 1


def test_refetches_pressed_during_a_slow_fetch_share_it(clean_sandbox, sandbox_connection, team_a):
    """Even Re-fetch (force) does not stack requests: those asked while one is in flight join it."""
    conn = sandbox_connection(team_a)
    clean_sandbox.control.post(
        "/_sandbox/faults",
        {"path": f"/{clean_sandbox.tenant_id}/oauth2/v2.0/token", "delay_ms": 1500, "count": CALLERS},
    )

    outcomes = _in_threads(lambda: tokens.fetch_token(conn, force=True))

    assert all(o.ok for o in outcomes)
    assert token_requests(clean_sandbox, clean_sandbox.client_id) == 1
    assert ConnectionToken.objects.get(connection=conn).claimed_by == ""


def test_fifty_queued_jobs_send_one_token_request(clean_sandbox, sandbox_connection, team_a, live_worker, wait_for_job):
    conn = sandbox_connection(team_a)

    queued = [
        jobs.enqueue(
            tasks.fetch_token.name, "token_fetch", connection=conn, args=(str(conn.pk), False, TokenFetch.Reason.FETCH)
        )
        for _ in range(CALLERS)
    ]
    finished = [wait_for_job(job.pk, timeout=60) for job in queued]

    assert all(job.state == Job.State.SUCCEEDED for job in finished), [j.error for j in finished if j.error][:3]
    assert token_requests(clean_sandbox, clean_sandbox.client_id) == 1
    assert sum(not (j.result["cached"] or j.result["joined"]) for j in finished) == 1
