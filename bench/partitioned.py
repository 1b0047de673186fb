"""A partitioned full sync against Graph's costs: graphconn's read of N users beside the serial floor.

Run: .venv/bin/python bench/partitioned.py [--users 100000] [--scale 1] [--partitions N] [--no-floor]

Starts a sandbox of N users with the latency model at ``--scale`` (1 = Graph's published pace:
about 5.5 minutes for 100,000 users one page after another) and the resource-unit budget on, then
in this process (SQLite, no worker) runs graphconn's first full sync (``runner.run_sync``) with
``--partitions`` threads (default: ``SYNC_PARTITIONS``'s default), and then measures the serial
floor (one ``requests.Session`` following ``@odata.nextLink``, as bench/serial_floor.py). For each it prints the wall time and the cost
model's ideal (the sum of what the sandbox held each request, from its own counters; for the sync
divided by the concurrency used), and the ratios the targets are about: sync / floor (≤ 1/15) and
sync / ideal (≤ 1.3), plus the resource units, 429s and the worker's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench import harness  # noqa: E402
from graphsandbox.testing import start_sandbox  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--scale", type=float, default=1.0, help="latency scale: 1 is Graph's published pace")
    parser.add_argument("--partitions", type=int, default=None, help="default: SYNC_PARTITIONS's default")
    parser.add_argument("--no-floor", action="store_true", help="skip (a): print the model's serial time instead")
    args = parser.parse_args()

    load = os.getloadavg()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite; load before: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    print(f"starting a sandbox with {args.users:,} users, latency scale {args.scale}…", flush=True)
    sandbox = start_sandbox(
        users=args.users, groups=10, seed=11, extra_args=["--latency-scale", str(args.scale), "--budget"]
    )
    var_dir = tempfile.mkdtemp(prefix="gc-bench-partitioned-")
    database_url, _ = harness.database("", var_dir)
    try:
        extra = {"SYNC_PARTITIONS": str(args.partitions)} if args.partitions is not None else {}
        harness.configure([sandbox], database_url, var_dir, **extra)
        from django.conf import settings

        args.partitions = int(settings.SYNC_PARTITIONS)
        sync_seconds, sync_costs, run = _sync(sandbox)
        floor_seconds, floor_costs = (None, None) if args.no_floor else _floor(sandbox)
    finally:
        sandbox.stop()

    key = f"{sandbox.client_id}/{sandbox.tenant_id}"
    account = sync_costs["accounts"][key]
    in_flight = sync_costs.get("peak_in_flight") or args.partitions
    concurrency = min(args.partitions, in_flight) if in_flight else args.partitions
    ideal = account["latency_seconds"] / concurrency
    print(f"(b) graphconn full sync:   {sync_seconds:8.2f} s  {run.rows:,} rows in {run.pages} pages")
    print(
        f"    model's ideal at {concurrency} at once: {ideal:8.2f} s  (held {account['latency_seconds']:.1f} s "
        f"in all)  ratio sync/ideal {sync_seconds / ideal:.2f}  (target ≤ 1.3)"
    )
    print(
        f"    resource units {account['units']}, 429s {account['throttled']}, peak in flight {in_flight}, "
        f"busiest window {account.get('peak_window_fraction', 0):.0%} of the budget"
    )
    print(
        f"    peak RSS of this process (the worker's part): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    if floor_costs is not None and floor_seconds is not None:
        floor_ideal = floor_costs["accounts"][key]["latency_seconds"]
        print(
            f"(a) serial floor:          {floor_seconds:8.2f} s  model's ideal {floor_ideal:.2f} s "
            f"(ratio {floor_seconds / floor_ideal:.2f})"
        )
        print(
            f"    ratio sync/floor {sync_seconds / floor_seconds:.4f} = 1/{floor_seconds / sync_seconds:.1f}  (target ≤ 1/15)"
        )
    else:
        serial = sync_costs["model"]["serial_100000_users_seconds"] * args.users / 100_000
        print(f"(a) not measured; the model's serial time for these users: {serial:.1f} s")
        print(f"    ratio sync/model serial 1/{serial / sync_seconds:.1f}  (target ≤ 1/15)")
    load = os.getloadavg()
    print(f"load after: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


def _sync(sandbox):
    from connections.models import SyncRun
    from connections.syncs import runner
    from connections.tokens import fetch as tokens

    connection = harness.connection(sandbox)
    tokens.ensure_token(connection)
    run = SyncRun.objects.create(connection=connection, entity=connection.entity)
    sandbox.control.delete("costs")  # counters from here
    started, cpu = time.perf_counter(), time.process_time()
    result = runner.run_sync(connection, run, None)
    seconds = time.perf_counter() - started
    print(f"    the sync's CPU time in this process: {time.process_time() - cpu:.1f} s")
    costs = sandbox.costs()
    run.refresh_from_db()
    assert result["ok"], run.error
    return seconds, costs, run


def _floor(sandbox):
    session = sandbox.session()
    session.headers["Authorization"] = f"Bearer {sandbox.token()}"
    sandbox.control.delete("costs")
    url: str | None = f"{sandbox.graph_url}/users"
    params: dict[str, str] | None = {"$top": "999"}
    started = time.perf_counter()
    while url:
        answer = session.get(url, params=params, timeout=600)
        answer.raise_for_status()
        body = answer.json()
        url, params = body.get("@odata.nextLink"), None
    return time.perf_counter() - started, sandbox.costs()


if __name__ == "__main__":
    main()
