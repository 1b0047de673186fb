"""One throttle budget per app + tenant, shared by every process that reads the tenant: against
real Redis (a key prefix of this test's own) and the embedded default's SQLite file.

The windows are shortened (Graph's is ten seconds) so a test spends a few seconds; what is checked
is the budget's own record of every draw, never how long anything took."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings

from microsoft import throttling

WINDOW_MS = 1000
LIMIT = 20


def _redis_url() -> str:
    url = settings.CELERY_BROKER_URL if settings.CELERY_BROKER_URL.startswith("redis") else ""
    return url or "redis://127.0.0.1:6379/0"


def make_store(kind: str, where: str) -> throttling.Store:
    if kind == "redis":
        return throttling.RedisStore(redis.Redis.from_url(_redis_url()), prefix=where)
    return throttling.SQLiteStore(where)


@pytest.fixture(params=["redis", "sqlite"])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "redis":
        client = redis.Redis.from_url(_redis_url())
        try:
            client.ping()
        except redis.RedisError:
            pytest.skip(f"no Redis at {_redis_url()}")
        prefix = f"graphconn-test-throttle-{uuid.uuid4().hex[:8]}:"
        yield "redis", prefix
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    else:
        yield "sqlite", str(tmp_path / "throttle.sqlite3")


def drawn_units(kind: str, where: str, key: str) -> list[tuple[str, int]]:
    """Every unit drawn from the tenant's budget, as (reader, time in ms), from the store itself."""
    if kind == "redis":
        client = redis.Redis.from_url(_redis_url())
        members = client.zrange(f"{where}{key}:draws", 0, -1, withscores=True)
        return [(name.decode().split(":")[0], int(score)) for name, score in members]
    import sqlite3

    with sqlite3.connect(where) as conn:
        return [(name, int(ts)) for name, ts in conn.execute(f'SELECT name, item_timestamp FROM "draws_{key}"')]


def busiest_window(times: list[int]) -> int:
    """The most units in any window of WINDOW_MS (sliding: one starting at every draw)."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - WINDOW_MS:
            start += 1
        best = max(best, end - start + 1)
    return best


def _reader(kind: str, where: str, key: str, reader: str, requests: int, cost: int) -> None:
    budget = throttling.Budget(make_store(kind, where), fraction=1.0, units=LIMIT, window_ms=WINDOW_MS)
    reading = throttling.Reading(reader, throttling.Tally())
    for _ in range(requests):
        budget.draw(key, cost, reading)


def test_two_processes_never_exceed_the_budget_in_any_window(store_spec: tuple[str, str]) -> None:
    kind, where = store_spec
    key = uuid.uuid4().hex[:24]
    context = multiprocessing.get_context("spawn")  # fresh processes, as two workers would be
    readers = [context.Process(target=_reader, args=(kind, where, key, f"run{i}", 12, 2)) for i in range(2)]
    for process in readers:
        process.start()
    for process in readers:
        process.join(timeout=120)
        assert process.exitcode == 0
    units = drawn_units(kind, where, key)
    assert len(units) == 2 * 12 * 2, "every request drew its cost"
    assert {reader for reader, _ in units} == {"run0", "run1"}
    assert busiest_window([t for _, t in units]) <= LIMIT


def drain(budget: throttling.Budget, key: str, reading: throttling.Reading, cost: int = 1) -> int:
    """Units a reader gets before the budget would make it wait."""
    taken = 0
    while taken < 10 * LIMIT:
        try:
            budget.draw(key, cost, reading)
        except throttling.BudgetBusy:
            return taken
        taken += cost
    return taken


def test_a_reader_alone_may_take_the_whole_budget(store_spec: tuple[str, str]) -> None:
    budget = throttling.Budget(make_store(*store_spec), fraction=1.0, units=LIMIT)  # Graph's ten seconds
    key = uuid.uuid4().hex[:24]
    assert drain(budget, key, throttling.Reading("alone", throttling.Tally(), blocking=False)) == LIMIT


def test_two_readers_share_the_budget_fairly(store_spec: tuple[str, str]) -> None:
    kind, where = store_spec
    key = uuid.uuid4().hex[:24]
    first = throttling.Budget(make_store(kind, where), fraction=1.0, units=LIMIT)
    second = throttling.Budget(make_store(kind, where), fraction=1.0, units=LIMIT)  # another worker
    second.draw(key, 1, throttling.Reading("second", throttling.Tally()))
    greedy = drain(first, key, throttling.Reading("first", throttling.Tally(), blocking=False))
    assert greedy == LIMIT // 2, "with two readers of the tenant, one takes at most half"
    assert drain(second, key, throttling.Reading("second", throttling.Tally(), blocking=False)) == LIMIT // 2 - 1


def test_graphs_charge_corrects_the_estimate(store_spec: tuple[str, str]) -> None:
    store = make_store(*store_spec)
    budget = throttling.Budget(store, fraction=1.0, units=100)
    key = uuid.uuid4().hex[:24]
    url, params = "https://graph.microsoft.com/v1.0/organization", {"$select": "id"}
    assert budget.estimate(key, url, params) == 1
    budget.draw(key, 1)
    budget.settle(key, url, params, 1, throttling.Answer(resource_units=4))
    assert budget.estimate(key, url, params) == 4, "the next request of that kind is estimated at Graph's charge"
    budget.draw(key, budget.estimate(key, url, params))
    assert sum(budget.recent_use(key)) == 1 + 3 + 4, "the difference is drawn with the next request"


def test_a_reported_limit_percentage_slows_every_reader_down(store_spec: tuple[str, str]) -> None:
    kind, where = store_spec
    key = uuid.uuid4().hex[:24]
    one = throttling.Budget(make_store(kind, where), fraction=0.9, units=1000)
    other = throttling.Budget(make_store(kind, where), fraction=0.9, units=1000)  # another worker
    assert one.limit(key) == other.limit(key) == 900
    users = "https://graph.microsoft.com/v1.0/users"
    one.settle(key, users, None, 2, throttling.Answer(2, 1.0))
    assert other.limit(key) == 720, "Graph said 100 %: everyone aims for 80 % of what they used"
    one.settle(key, users, None, 2, throttling.Answer(2, 1.0))
    assert other.limit(key) == 720, "more reports from before the slowdown took effect change nothing"
    one.settle(key, users, None, 2, throttling.Answer(2, 0.5))
    assert other.limit(key) == 720, "a percentage under the target changes nothing"


def test_a_report_our_own_draws_explain_slows_nobody_down(store_spec: tuple[str, str]) -> None:
    """Our limit keeps us at 90 % of Graph's budget in any window, so Graph reporting about that much
    is our own use: slowing down would leave a part of the budget unused. More than our draws
    explain means someone else uses the budget too: then everyone slows down."""
    budget = throttling.Budget(make_store(*store_spec), fraction=0.9, units=1000)
    key = uuid.uuid4().hex[:24]
    users = "https://graph.microsoft.com/v1.0/users"
    tally = throttling.Tally()
    with throttling.reading(throttling.Reading("run", tally)):
        for _ in range(9):
            budget.draw(key, 100)
        budget.settle(key, users, None, 2, throttling.Answer(2, 0.92))
        assert budget.limit(key) == 900 and tally.explained == 1, "90 % drawn explains 92 % reported"
        budget.settle(key, users, None, 2, throttling.Answer(2, 1.2))
        assert budget.limit(key) == 600 and tally.explained == 1, "120 % is more than our draws: slow down"
    assert tally.highest_percentage == pytest.approx(1.2)


def test_a_named_tenants_budget_comes_before_the_others(store_spec: tuple[str, str]) -> None:
    budget = throttling.Budget(make_store(*store_spec), fraction=0.9, tenant_units={"small-tenant": 400})
    named, other = uuid.uuid4().hex[:24], uuid.uuid4().hex[:24]
    budget.name(named, "Small-Tenant")
    budget.name(other, "another-tenant")
    assert budget.limit(named) == 360
    assert budget.limit(other) == 3150, "unknown size: the smallest of Graph's budgets"
    budget.tenant_size(named, 20_000)
    assert budget.limit(named) == 360, "the named budget holds whatever the tenant's size"


def test_a_refusal_teaches_every_reader_graphs_real_budget(store_spec: tuple[str, str]) -> None:
    """Graph answered 429 for the tenant's budget while we had drawn 300 units in the window: its
    budget is no more than that, whatever its documented size (or someone we do not see shares it),
    so every reader aims under it."""
    kind, where = store_spec
    key = uuid.uuid4().hex[:24]
    one = throttling.Budget(make_store(kind, where), fraction=0.9, units=1000)
    other = throttling.Budget(make_store(kind, where), fraction=0.9, units=1000)  # another worker
    users = "https://graph.microsoft.com/v1.0/users"
    for _ in range(3):
        one.draw(key, 100)
    one.settle(key, users, None, 2, throttling.Answer(resource_units=2))
    assert other.limit(key) == 900, "an answer that is not a refusal teaches nothing"
    refused = throttling.Answer(scope="Tenant_Application/Read/app/tenant", retry_after=2.0)
    one.settle(key, users, None, 100, refused)
    assert other.limit(key) == 270, "90 % of the 300 units Graph refused at"
    other.settle(key, users, None, 100, refused)
    assert other.limit(key) == 270, "a refusal at what was learned changes nothing"


def test_graph_still_near_its_limit_a_window_later_slows_down_further(store_spec: tuple[str, str]) -> None:
    budget = throttling.Budget(make_store(*store_spec), fraction=1.0, units=1000, window_ms=500)
    key = uuid.uuid4().hex[:24]
    users = "https://graph.microsoft.com/v1.0/users"
    budget.settle(key, users, None, 2, throttling.Answer(2, 1.0))
    assert budget.limit(key) == 800
    time.sleep(0.6)  # past the window: someone else is using the budget too
    budget.settle(key, users, None, 2, throttling.Answer(2, 1.0))
    assert budget.limit(key) == 640


def test_a_run_tallies_units_and_the_highest_percentage(store_spec: tuple[str, str]) -> None:
    budget = throttling.Budget(make_store(*store_spec), units=1000)
    key = uuid.uuid4().hex[:24]
    tally = throttling.Tally()
    url = "https://graph.microsoft.com/v1.0/users"
    with throttling.reading(throttling.Reading("run", tally)):
        for charged, percentage in ((2, None), (2, 0.85), (1, 0.81)):
            budget.settle(key, url, None, 2, throttling.Answer(charged, percentage))
    assert tally.units == 5
    assert tally.highest_percentage == pytest.approx(0.85)


def test_an_unreachable_store_never_stops_a_read(monkeypatch: pytest.MonkeyPatch) -> None:
    dead = throttling.RedisStore(redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2))
    monkeypatch.setattr(throttling, "_installed", throttling.Budget(dead))
    token: Any = "eyJhbGciOiJub25lIn0.eyJhcHBpZCI6ImEiLCJ0aWQiOiJ0In0.x"  # {"appid":"a","tid":"t"}
    assert throttling.before(token, "https://graph.microsoft.com/v1.0/users", None) is None
