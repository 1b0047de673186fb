"""Partitioned full reads against the real sandbox: every item exactly once whatever the names (on
and around every boundary, in several scripts and cases), the same records as a serial read, the
next run a delta, and a serial read again when the partitions' rows do not match Graph's count."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from connections.models import SyncRun
from connections.syncs import partitions
from tests.factories import sandbox_listing

pytestmark = pytest.mark.django_db

SCRIPTS = ["émile", "Émile.b", "ωmega", "Ωmega.b", "дарья", "Дмитрий", "李雷", "~tilde", "{brace", "_under", "!bang"]


def names_around_boundaries(cases: bool = False) -> list[str]:
    """Names equal to, just before and just after every boundary a plan can choose (one and two
    characters, and ``first.last`` forms, whose ``.`` a boundary may hold: the splits below go that
    deep, and the plan also splits at prefixes of the names themselves), in both cases, plus
    other scripts and symbols.
    ``cases``: also each name in upper case (user names must differ case-insensitively)."""
    names: list[str] = []
    for c in partitions.ALPHABET:
        names += [c, f"{c.upper()}.", f"{c}-x", f"{c.upper()}0", f"{c}Z", f"{c.upper()}zz", f"{c}~"]
    for two in ("j0", "jm", "jz", "a5", "zz", "m0", "s9"):
        names += [two, f"{two.upper()}!", f"{two}a", f"{two}.", f"{two}.{two}", f"{two.upper()}-x"]
    names += SCRIPTS
    return names + [n.upper() for n in names] if cases else names


@pytest.fixture
def partitioned(settings, caplog, monkeypatch):
    """Four partitions for any collection (the sandbox's directories are small), and small pages,
    so the plan splits ranges on longer boundaries."""
    settings.SYNC_PARTITIONS = 4
    settings.SYNC_PARTITIONS_FROM = 1
    settings.SYNC_PARTITIONS_SLOWER_THAN_MS = 0  # the sandbox answers at once: partition all the same
    monkeypatch.setattr(partitions, "MIN_PIECE", 1)  # pieces of a page, however small the page
    caplog.set_level(logging.INFO, "connections.syncs.partitions")
    return settings


def records(run: SyncRun) -> dict[str, Any]:
    data = dict(run.records.values_list("key", "data"))
    assert len(data) == run.rows
    return data


def test_users_partitioned_equal_users_read_serially(
    clean_sandbox, sandbox_connection, team_a, operator_a, sync_inline, partitioned, caplog
):
    domain = clean_sandbox.tenant_domain
    unique = {n.lower(): n for n in reversed(names_around_boundaries())}  # UPNs differ case-insensitively
    for name in unique.values():
        clean_sandbox.control.post("/_sandbox/users", {"userPrincipalName": f"{name}@{domain}", "displayName": name})
    select = "id,displayName,jobTitle"  # without userPrincipalName: asked for the boundaries, not kept
    conn = sandbox_connection(team_a, odata_select=select)

    run = sync_inline(conn, operator_a, page_size=25)

    assert run.status == "succeeded", run.error
    assert "reads serially" not in caplog.text  # the partitions' rows matched Graph's count
    listed = sandbox_listing(clean_sandbox, **{"$select": select})
    assert run.total == len(listed) == run.rows
    partitioned.SYNC_PARTITIONS = 1
    serial = sync_inline(sandbox_connection(team_a, name="serial", odata_select=select), operator_a, page_size=25)
    assert serial.status == "succeeded", serial.error
    assert records(run) == records(serial) == {u["id"]: u for u in listed}  # item for item
    assert all(set(data) == {"id", "displayName", "jobTitle"} for data in records(run).values())

    clean_sandbox.control.patch(f"/_sandbox/users/{listed[0]['id']}", {"jobTitle": "Changed"})
    partitioned.SYNC_PARTITIONS = 4
    again = sync_inline(conn, operator_a, page_size=25)
    assert again.status == "succeeded", again.error
    assert again.mode == "delta" and again.changed == 1 and again.added == again.removed == 0


def test_groups_named_exactly_as_the_boundaries_come_once(
    clean_sandbox, sandbox_connection, team_a, operator_a, sync_inline, partitioned, caplog
):
    app = clean_sandbox.control.post("/_sandbox/apps", {"display_name": "groups reader", "roles": ["Group.Read.All"]})
    for name in names_around_boundaries(cases=True):
        clean_sandbox.control.post("/_sandbox/groups", {"displayName": name})
    conn = sandbox_connection(team_a, app, entity="groups", odata_select="id,displayName")

    run = sync_inline(conn, operator_a, page_size=10)

    assert run.status == "succeeded", run.error
    listed = sandbox_listing(clean_sandbox, "groups", **{"$select": "id,displayName"})
    assert records(run) == {g["id"]: g for g in listed}
    assert run.total == run.rows == len(listed)
    assert "reads serially" not in caplog.text


def test_a_name_no_range_finds_makes_the_run_say_so_and_read_serially(
    clean_sandbox, sandbox_connection, team_a, operator_a, sync_inline, partitioned, caplog
):
    app = clean_sandbox.control.post("/_sandbox/apps", {"display_name": "groups reader", "roles": ["Group.Read.All"]})
    for name in ("alpha", "beta", "gamma"):
        clean_sandbox.control.post("/_sandbox/groups", {"displayName": name})
    clean_sandbox.control.post("/_sandbox/groups", {"displayName": None})  # in no displayName range
    conn = sandbox_connection(team_a, app, entity="groups", odata_select="id,displayName")

    run = sync_inline(conn, operator_a, page_size=10)

    assert run.status == "succeeded", run.error
    listed = sandbox_listing(clean_sandbox, "groups", **{"$select": "id,displayName"})
    assert any(g["displayName"] is None for g in listed)
    assert records(run) == {g["id"]: g for g in listed}  # the nameless one too
    assert "33 rows read in" in caplog.text and "but Graph counts 34" in caplog.text
    assert run.pages == -(-len(listed) // 10)  # read again one page after another, counted afresh


def test_a_partition_failing_mid_read_fails_the_run_and_keeps_nothing(
    clean_sandbox, sandbox_connection, team_a, operator_a, sync_inline, partitioned
):
    from connections.models import SyncStage

    conn = sandbox_connection(team_a, odata_select="id,displayName")
    # About one users request in four fails, counts and pages alike (the same ones every time), and
    # no page is asked again.
    partitioned.SYNC_PAGE_RETRY_SECONDS = 0
    clean_sandbox.control.post(
        "/_sandbox/faults", {"path": "/v1.0/users", "status": 500, "rate": 0.25, "seed": 3, "count": 10_000}
    )
    failed = sync_inline(conn, operator_a, page_size=25)
    clean_sandbox.control.delete("/_sandbox/faults")

    assert failed.status == "failed" and failed.error["title"]
    assert failed.rows == 0 and not failed.records.exists() and not SyncStage.objects.filter(run=failed).exists()
    again = sync_inline(conn, operator_a, page_size=25)
    assert again.status == "succeeded", again.error
    listed = sandbox_listing(clean_sandbox, **{"$select": "id,displayName"})
    assert records(again) == {u["id"]: u for u in listed}


def test_a_graph_that_answers_at_once_is_read_in_one_chain(
    settings, monkeypatch, clean_sandbox, sandbox_connection, team_a, operator_a, sync_inline
):
    """Partitions pay where each page takes Graph's time; against a Graph that answers its count at
    once (here the sandbox without its latency model) one chain is quicker, so the run reads serially."""
    settings.SYNC_PARTITIONS, settings.SYNC_PARTITIONS_FROM = 4, 1
    settings.SYNC_PARTITIONS_SLOWER_THAN_MS = 50
    planned: list[int] = []
    monkeypatch.setattr(partitions.PartitionedRead, "plan", lambda self, total, *_: planned.append(total))
    run = sync_inline(sandbox_connection(team_a), operator_a, page_size=50)
    assert run.status == "succeeded", run.error
    assert planned == []  # no partition was planned
    assert run.rows == run.total == len(sandbox_listing(clean_sandbox))


@pytest.fixture
def own_worker_env() -> dict[str, str]:
    """The worker of the cancel test reads the 2,500-user sandbox in four partitions, 50 users a page."""
    return {
        "SYNC_PARTITIONS": "4",
        "SYNC_PARTITIONS_FROM": "1",
        "SYNC_PARTITIONS_SLOWER_THAN_MS": "0",
        "SYNC_PAGE_SIZE": "50",
    }


@pytest.mark.django_db(transaction=True)
def test_a_cancel_while_partitions_read_keeps_nothing_and_the_next_run_is_exact(
    big, team_a, operator_a, login, own_worker
):
    from django.urls import reverse

    from connections.models import SyncStage, SyncVersion
    from tests.factories import make_sandbox_connection, press_sync, wait_until

    conn = make_sandbox_connection(big, team_a, name="big users", odata_select="id,displayName,jobTitle")
    # Every users request takes 0.3 s: four partitions read the 50 pages for several seconds.
    big.control.post("/_sandbox/faults", {"path": "/v1.0/users", "status": None, "delay_ms": 300, "count": 10_000})
    operator = login(operator_a)
    versions = SyncVersion.objects.count()

    run = press_sync(operator, conn)
    reading = SyncRun.objects.filter(pk=run.pk, message__contains="partitions read", rows__gte=100)
    wait_until(reading.exists, timeout=60, what="the partitions to read some pages")
    assert SyncStage.objects.filter(run=run).exists()  # part of it is staged, seen nowhere
    answer = operator.post(reverse("connections:sync_cancel", args=[conn.pk, run.pk]), HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and "Cancelling" in answer.content.decode()

    wait_until(lambda: SyncRun.objects.get(pk=run.pk).is_finished, timeout=30, what="the partitions to stop")
    run.refresh_from_db()
    assert run.status == "cancelled" and run.rows == 0
    assert not SyncStage.objects.filter(run=run).exists() and not run.records.exists()
    assert SyncVersion.objects.count() == versions
    page = operator.get(reverse("connections:detail", args=[conn.pk])).content.decode()
    assert "Cancelled" in page and "nothing this run read was kept" in page

    big.control.delete("/_sandbox/faults")
    again = press_sync(operator, conn)
    wait_until(lambda: SyncRun.objects.get(pk=again.pk).is_finished, timeout=120, what="the next run")
    again.refresh_from_db()
    assert again.status == "succeeded", again.error
    assert again.mode == "full" and again.rows == again.total == 2500
    assert records(again) == {u["id"]: u for u in sandbox_listing(big, **{"$select": "id,displayName,jobTitle"})}
