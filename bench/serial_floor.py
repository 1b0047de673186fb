"""The serial floor: one client reading every user one page after another, with Graph's costs on.

Run: .venv/bin/python bench/serial_floor.py [--users 100000] [--scale 0.1] [--top 999] [--select id,…]

Starts a sandbox of N users with the latency model at ``--scale`` (1 = the published pace, about
5.5 minutes for 100,000 users; 0.1 runs the same shape ten times faster) and the app + tenant
resource-unit budget on, then follows ``@odata.nextLink`` with one ``requests.Session`` and parses
each page. It prints the machine, the scale, the pages, the wall time, the cost model's ideal time
for those pages (the sum of what the sandbox held them, from its own counters) and the ratio, the
resource units spent and the budget's busiest window. A parallel reader is measured against the
ideal printed here.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from graphsandbox.testing import start_sandbox  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument(
        "--scale", type=float, default=0.1, help="latency scale: 1 is Graph's published pace (default 0.1)"
    )
    parser.add_argument("--top", type=int, default=999, help="page size ($top), as Microsoft's sample (999)")
    parser.add_argument("--select", default="", help="$select (default: none, Graph's default properties)")
    args = parser.parse_args()

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    sandbox = start_sandbox(
        users=args.users, groups=10, seed=11, extra_args=["--latency-scale", str(args.scale), "--budget"]
    )
    try:
        session = sandbox.session()
        session.headers["Authorization"] = f"Bearer {sandbox.token()}"  # not part of the figure
        sandbox.control.delete("costs")  # counters from here
        params: dict[str, str] | None = {"$top": str(args.top), **({"$select": args.select} if args.select else {})}
        url: str | None = f"{sandbox.graph_url}/users"
        pages = items = throttled = 0
        started = time.perf_counter()
        while url:
            answer = session.get(url, params=params, timeout=600)
            if answer.status_code == 429:  # not expected: a serial reader stays far below the budget
                throttled += 1
                time.sleep(int(answer.headers.get("Retry-After", "1")))
                continue
            answer.raise_for_status()
            body = answer.json()
            pages, items = pages + 1, items + len(body["value"])
            url, params = body.get("@odata.nextLink"), None
        wall = time.perf_counter() - started
        costs = sandbox.costs()
    finally:
        sandbox.stop()

    account = costs["accounts"][f"{sandbox.client_id}/{sandbox.tenant_id}"]
    ideal = account["latency_seconds"]
    published = costs["model"]["serial_100000_users_seconds"]
    print(f"latency scale: {args.scale}  (model at this scale: 100,000 users serially = {published:.1f} s)")
    print(
        f"users: {items:,} in {pages} pages of up to {args.top}{' with $select=' + args.select if args.select else ''}"
    )
    print(f"(a) serial floor wall time:  {wall:8.2f} s")
    print(
        f"    cost model's ideal:      {ideal:8.2f} s   ratio wall/ideal {wall / ideal if ideal else float('nan'):.2f}"
    )
    if args.scale:
        print(f"    the same pages at scale 1: {ideal / args.scale:8.1f} s (Graph's published pace)")
    print(
        f"resource units: {account['units']} spent, budget {account['limit']} per {account['window_seconds']:.0f} s, "
        f"busiest window {account['peak_window_fraction']:.1%}, 429s {account['throttled']} (client saw {throttled})"
    )


if __name__ == "__main__":
    main()
