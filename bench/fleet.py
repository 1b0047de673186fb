"""A fleet: many connections on several tenants, synced together by several worker processes.

Run: .venv/bin/python bench/fleet.py [--users 20000,20000,20000,6000] [--per-tenant 5] [--scale 0.2]
     [--small-budget 250] [--workers 2] [--concurrency 10] [--database-url URL --redis-url URL]

Starts one sandbox process per tenant (each its own tenant and demo app, all on one CA) with the
latency model at ``--scale`` and the resource-unit budget on: the last tenant is the small one,
its budget ``--small-budget`` units per ten seconds (small enough to bind); the others have Graph's
budget for their size. graphconn is told the small tenant's budget (``GRAPH_THROTTLE_TENANT_UNITS``)
and sizes the others as it does by default (unknown: Graph's smallest budget). ``--workers`` real
``celery worker`` processes (``--concurrency`` each) take ``--per-tenant`` connections of every
tenant, all started together (Sync now on each, tenants interleaved); the bench polls the
sandboxes' own counters meanwhile. It prints, per tenant: requests, resource units, 429 answers
(target: none), the wall time of its syncs and whether every run succeeded with the exact row count;
and for the small tenant the share of its budget used while its reads lasted (target ≥ 70 %): the
mean over that span and its busiest ten seconds, from the sandbox's cumulative units.

On the embedded default (SQLite, filesystem broker, the budget in an SQLite file) unless
``--database-url`` (PostgreSQL; used as given, so name an empty database) and ``--redis-url``
(broker and budget) are given.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench import harness  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="20000,20000,20000,6000", help="users per tenant; the last is the small one")
    parser.add_argument("--per-tenant", type=int, default=5, help="connections per tenant")
    parser.add_argument("--scale", type=float, default=0.2, help="latency scale: 1 is Graph's published pace")
    parser.add_argument("--small-budget", type=int, default=250, help="the small tenant's units per 10 s")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=10, help="syncs each worker runs at once")
    parser.add_argument("--pool", default="threads", help="the workers' pool (threads or prefork)")
    parser.add_argument("--database-url", default="", help="an empty PostgreSQL database (default: SQLite)")
    parser.add_argument("--redis-url", default="", help="broker and throttle budget (default: files)")
    args = parser.parse_args()
    users = [int(n) for n in args.users.split(",")]

    database = "PostgreSQL" if args.database_url else "SQLite"
    print(harness.machine(database + (" + Redis" if args.redis_url else " + filesystem broker")))
    print(
        f"latency scale {args.scale} (1 = Graph's published pace); {len(users)} tenants of "
        f"{', '.join(f'{n:,}' for n in users)} users, {args.per_tenant} connections each; "
        f"{args.workers} workers × {args.concurrency} ({args.pool} pool); small tenant's budget "
        f"{args.small_budget} units per 10 s",
        flush=True,
    )
    specs: list[dict[str, Any]] = [
        {"users": n, "groups": 3, "seed": 100 + i, "extra_args": ["--budget"]} for i, n in enumerate(users)
    ]
    specs[-1]["extra_args"] = ["--budget-units", str(args.small_budget)]
    sandboxes = harness.start_sandboxes(specs, ["--latency-scale", str(args.scale)])
    var_dir = tempfile.mkdtemp(prefix="gc-bench-fleet-")
    workers = None
    try:
        extra = {
            "GRAPH_THROTTLE_TENANT_UNITS": f"{sandboxes[-1].tenant_id}={args.small_budget}",
            # The shape of Graph's latency, scaled: a count slower than this (scaled too) partitions.
            "SYNC_PARTITIONS_SLOWER_THAN_MS": str(50 * args.scale),
            "WORKER_HEARTBEAT_SECONDS": "2",
        }
        if args.redis_url:
            prefix = f"graphconn-fleet-{os.getpid()}:"
            extra.update(
                CELERY_BROKER_URL=args.redis_url, CELERY_KEY_PREFIX=prefix, GRAPH_THROTTLE_PREFIX=f"{prefix}throttle:"
            )
        else:
            extra["BROKER_DIR"] = str(Path(var_dir) / "broker")
        database_url = args.database_url or harness.database("", var_dir)[0]
        harness.configure(sandboxes, database_url, var_dir, **extra)
        fleet = _connections(sandboxes, args.per_tenant)
        workers = harness.Workers(args.workers, args.concurrency, var_dir, pool=args.pool)
        workers.start()
        result = _run(sandboxes, fleet)
    finally:
        if workers is not None:
            workers.stop()
        for sandbox in sandboxes:
            sandbox.stop()
    _report(sandboxes, users, fleet, result, args)


def _connections(sandboxes: list[Any], per_tenant: int) -> list[list[Any]]:
    """``per_tenant`` connections of each tenant, each with its token already (not part of any figure)."""
    from connections.tokens import fetch

    fleet = []
    for t, sandbox in enumerate(sandboxes):
        tenant = [harness.connection(sandbox, name=f"tenant {t} reader {i}") for i in range(per_tenant)]
        for connection in tenant:
            fetch.ensure_token(connection)
        fleet.append(tenant)
    return fleet


class Sampler(threading.Thread):
    """Reads every sandbox's cumulative counters twice a second: (time, units, requests, 429s)."""

    def __init__(self, sandboxes: list[Any]) -> None:
        super().__init__(daemon=True)
        self.sandboxes = sandboxes
        self.samples: list[list[tuple[float, int, int, int]]] = [[] for _ in sandboxes]
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for sandbox, samples in zip(self.sandboxes, self.samples, strict=True):
                account = sandbox.account()
                samples.append((time.time(), account["units"], account["requests"], account["throttled"]))
            self.done.wait(0.5)


def _run(sandboxes: list[Any], fleet: list[list[Any]]) -> dict[str, Any]:
    from connections import syncs
    from connections.models import SyncRun

    for sandbox in sandboxes:
        sandbox.control.delete("costs")  # counters from here
    sampler = Sampler(sandboxes)
    sampler.start()
    started = time.time()
    runs: list[list[Any]] = [[] for _ in fleet]
    for i in range(max(len(tenant) for tenant in fleet)):  # tenants interleaved, as Sync now pressed in turn
        for t, tenant in enumerate(fleet):
            if i < len(tenant):
                runs[t].append(syncs.start(tenant[i], None))
    print(f"{sum(len(r) for r in runs)} syncs started in {time.time() - started:.2f} s", flush=True)
    ids = [r.pk for tenant in runs for r in tenant]
    last = 0.0
    while SyncRun.objects.filter(pk__in=ids, status__in=SyncRun.ACTIVE).exists():
        if time.time() - last > 15:
            last = time.time()
            done = SyncRun.objects.filter(pk__in=ids).exclude(status__in=SyncRun.ACTIVE).count()
            print(f"  {time.time() - started:6.0f} s: {done} of {len(ids)} finished; load {harness.load()}", flush=True)
        time.sleep(1)
    time.sleep(1)
    sampler.done.set()
    sampler.join()
    finished = [[SyncRun.objects.get(pk=r.pk) for r in tenant] for tenant in runs]
    return {
        "started": started,
        "runs": finished,
        "samples": sampler.samples,
        "costs": [s.costs() for s in sandboxes],
        "records": [[r.records.count() for r in tenant] for tenant in finished],
    }


def _share(samples: list[tuple[float, int, int, int]], limit: int) -> tuple[float, float, float, float, float]:
    """From the cumulative units: the span while they grew (first to last change), the units in it,
    their mean share of the budget per ten seconds, and the busiest ten seconds' share."""
    changed = [i for i in range(1, len(samples)) if samples[i][1] != samples[i - 1][1]]
    if not changed:
        return 0.0, 0.0, 0.0, 0.0, 0.0
    first, last = samples[changed[0] - 1], samples[changed[-1]]
    span = last[0] - first[0]
    units = last[1] - first[1]
    mean = units / (limit * span / 10) if span else 0.0
    busiest = 0
    j = 0
    for i, (at, used, _, _) in enumerate(samples):
        while samples[j][0] < at - 10:
            j += 1
        if at - samples[j][0] >= 9.5:
            busiest = max(busiest, used - samples[j][1])
        if i >= changed[-1]:
            break
    return first[0], span, units, mean, busiest / limit


def _series(samples: list[tuple[float, int, int, int]], since: float, span: float) -> str:
    """The units of each ten seconds ending every five seconds of the span, from the samples."""
    out = []
    end = since + 10
    while end <= since + span + 5:
        before = [u for at, u, _, _ in samples if at <= end - 10]
        upto = [u for at, u, _, _ in samples if at <= end]
        out.append(str((upto[-1] if upto else 0) - (before[-1] if before else 0)))
        end += 5
    return " ".join(out)


def _report(sandboxes: list[Any], users: list[int], fleet: list[list[Any]], result: dict[str, Any], args) -> None:
    started = result["started"]
    print(f"load average after: {harness.load()}")
    every_429 = 0
    for t, (sandbox, costs, runs, records) in enumerate(
        zip(sandboxes, result["costs"], result["runs"], result["records"], strict=True)
    ):
        account = costs["accounts"].get(f"{sandbox.client_id}/{sandbox.tenant_id}", {})
        limit = account.get("limit") or costs["budget_limit"]
        exact = all(r.status == "succeeded" and r.rows == n == users[t] for r, n in zip(runs, records, strict=True))
        began = min(r.started_at for r in runs if r.started_at).timestamp()
        ended = max(r.finished_at for r in runs if r.finished_at).timestamp()
        every_429 += account.get("throttled", 0)
        small = t == len(sandboxes) - 1
        print(
            f"tenant {t}{' (small budget)' if small else ''}: {users[t]:,} users, {len(runs)} syncs; "
            f"{account.get('requests', 0):,} requests, {account.get('units', 0):,} resource units, "
            f"{account.get('throttled', 0)} answered 429; budget {limit:,} units / 10 s, busiest window "
            f"{account.get('peak_window_fraction', 0):.0%} (the sandbox's own fixed windows)"
        )
        print(
            f"    syncs from {began - started:.1f} s to {ended - started:.1f} s (wall {ended - began:.1f} s); "
            f"each {min(r.duration or 0 for r in runs):.1f}–{max(r.duration or 0 for r in runs):.1f} s; "
            f"all succeeded with exactly {users[t]:,} rows: {'yes' if exact else 'NO'}"
            + ("" if exact else f" ({[(r.status, r.rows, n) for r, n in zip(runs, records, strict=True)]})")
        )
        waits = sum(r.budget_wait_seconds for r in runs)
        print(f"    its runs waited {waits:.0f} s for graphconn's budget in all (threads together)")
        if small:
            since, span, units, mean, busiest = _share(result["samples"][t], limit)
            print(f"    its units per 10 s, every 5 s: {_series(result['samples'][t], since, span)}")
            print(
                f"    while its reads lasted ({since - started:.1f} s to {since + span - started:.1f} s, "
                f"{span:.1f} s): {units:,.0f} units, mean {mean:.0%} of its budget per 10 s (target ≥ 70 %), "
                f"busiest 10 s {busiest:.0%}"
            )
    print(f"429 answers in all: {every_429} (target 0)")


if __name__ == "__main__":
    main()
