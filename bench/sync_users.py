"""How close a sync of N users runs to the raw download, and how the store grows with change.

Run: .venv/bin/python bench/sync_users.py [users=100000] [--database-url URL]   (``make bench``)

One sandbox of N generated users (HTTPS, a subprocess) and, in this process, the real code path
(``runner.run_sync``; no worker, no broker) on PostgreSQL when DATABASE_URL (or --database-url) names
one — a throwaway database is created beside it and dropped at the end — else on a fresh SQLite
file. It prints each figure and its ratio against its target:

(a) the floor: one ``requests.Session`` following ``@odata.nextLink`` and parsing each page;
(b) a first full sync;  (c) a full re-read with nothing changed;
(d) a delta re-sync with nothing changed;  (e) a delta re-sync after 1 % of users changed;
(f) 20 runs with 1 % change each, then the stored versions per user;
(g) peak resident memory of a first full sync at 10,000 and at N users (each in a child process).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench import harness  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("users", nargs="?", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--rss-only", action="store_true", help="(g): one first full sync, print peak RSS")
    parser.add_argument("--runs", type=int, default=20, help="runs of (f)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print cProfile's top functions and the queries over 20 ms of (b), (c) and (e)",
    )
    args = parser.parse_args()

    from graphsandbox.testing import start_sandbox

    var_dir = tempfile.mkdtemp(prefix="gc-bench-sync-")
    database_url, drop = harness.database(args.database_url, var_dir)
    if not args.rss_only:
        print(
            f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, {'PostgreSQL' if drop else 'SQLite'}"
        )
        print(f"starting a sandbox with {args.users:,} users…", flush=True)
    sandbox = start_sandbox(users=args.users, groups=10, seed=11)
    try:
        harness.configure([sandbox], database_url, var_dir)
        if args.rss_only:
            _first_sync(sandbox)
            print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        else:
            bench(sandbox, args.users, args.runs, args.database_url, args.profile)
    finally:
        sandbox.stop()
        if drop:
            drop()


def _run(connection, profile: bool = False):
    from connections.models import SyncRun
    from connections.syncs import runner

    sync_run = SyncRun.objects.create(connection=connection, entity=connection.entity)
    profiler = None
    slow: list[tuple[float, str]] = []

    def timed(execute, sql, params, many, context):  # with --profile: each query slower than 20 ms
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if time.perf_counter() - began > 0.02:
                slow.append((time.perf_counter() - began, sql[:160]))

    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    from django.db import connection as db

    started = time.perf_counter()
    with db.execute_wrapper(timed) if profile else contextlib.nullcontext():
        result = runner.run_sync(connection, sync_run, None)
    seconds = time.perf_counter() - started
    for took, sql in slow:
        print(f"  {took * 1000:7.1f} ms  {sql}")
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    sync_run.refresh_from_db()
    assert result["ok"], sync_run.error
    return sync_run, seconds


def _first_sync(sandbox) -> None:
    from connections import tokens

    connection = harness.connection(sandbox)
    tokens.ensure_token(connection)
    _run(connection)


def floor(sandbox) -> tuple[float, int]:
    """(a): what any client must spend: the same pages, one keep-alive session, each page parsed."""
    session = sandbox.session()  # a plain requests.Session that trusts the sandbox's CA
    session.headers["Authorization"] = f"Bearer {sandbox.token()}"
    started = time.perf_counter()
    url, params, items = f"{sandbox.graph_url}/users", {"$top": "999"}, 0
    while url:
        body = session.get(url, params=params, timeout=60).json()
        items += len(body["value"])
        url, params = body.get("@odata.nextLink"), None
    return time.perf_counter() - started, items


def change(sandbox, keys: list[str], label: str) -> None:
    session = sandbox.session()
    for index, key in enumerate(keys):
        session.patch(
            f"{sandbox.base_url}/_sandbox/users/{key}", json={"jobTitle": f"{label} {index}"}, timeout=10
        ).raise_for_status()


def bench(sandbox, users: int, runs: int, database_url: str, profile: bool = False) -> None:
    import random

    from connections import tokens
    from connections.models import SyncRun, SyncVersion

    connection = harness.connection(sandbox)
    tokens.ensure_token(connection)  # the token is not part of any figure
    rng = random.Random(11)
    one_percent = max(1, users // 100)

    def line(label: str, seconds: float, ratio: float | None, target: str, extra: str = "") -> None:
        shown = f"{ratio:6.2f}" if ratio is not None else "      "
        print(f"{label:44s} {seconds:8.2f} s  ratio {shown}  target {target:10s} {extra}", flush=True)

    a, items = floor(sandbox)
    assert items == users, (items, users)
    line("(a) floor: Session + nextLink + json", a, 1.0, "")

    first, b = _run(connection, profile)
    assert first.rows == users and first.mode == "full", (first.rows, first.mode)
    line("(b) first full sync", b, b / a, "<= 1.5 x a", f"{first.rows:,} rows {first.pages} pages")

    SyncRun.objects.filter(pk=first.pk).update(delta_link="")  # the next run reads everything
    full, c = _run(connection, profile)
    assert full.mode == "full" and (full.added, full.changed, full.removed) == (0, 0, 0)
    line("(c) full re-read, nothing changed", c, c / a, "<= 1.2 x a")

    versions_before = SyncVersion.objects.count()
    delta, d = _run(connection)
    assert delta.mode == "delta" and SyncVersion.objects.count() == versions_before
    line("(d) delta re-sync, nothing changed", d, d / b, "<= 0.02 x b", "(ratio to b)")

    keys = list(full.records.values_list("key", flat=True))
    change(sandbox, rng.sample(keys, one_percent), "Bench (e)")
    changed, e = _run(connection, profile)
    assert changed.mode == "delta" and changed.changed == one_percent, changed.changed
    line(f"(e) delta re-sync after {one_percent:,} changes", e, e / b, "<= 0.05 x b", "(ratio to b)")

    seconds = []
    for number in range(runs):
        change(sandbox, rng.sample(keys, one_percent), f"Bench (f) {number}")
        run, took = _run(connection)
        assert run.changed == one_percent, run.changed
        seconds.append(took)
    per_user = SyncVersion.objects.filter(stream__connection=connection).count() / users
    print(
        f"(f) {runs} runs of 1 % change: {sum(seconds) / len(seconds):.2f} s each on average; "
        f"{per_user:.3f} stored versions per user (target <= 1.25; the old store: {runs + 5} rows per user)"
    )

    rss = {}
    for count in sorted({10_000, users}):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                str(count),
                "--rss-only",
                "--database-url",
                database_url if database_url.startswith("postgres") else "",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        rss[count] = float(out[-1])
    low, high = rss[min(rss)], rss[max(rss)]
    print(
        "(g) peak RSS of a first full sync: "
        + ", ".join(f"{n:,} users {v:.0f} MiB" for n, v in rss.items())
        + f"; ratio {high / low:.2f} (target <= 1.2)"
    )


if __name__ == "__main__":
    main()
