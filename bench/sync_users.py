"""How fast a sync of N users runs through the real code path, and how much memory it needs.

Run: .venv/bin/python bench/sync_users.py [users=20000] [--database-url URL]

It starts a sandbox with N generated users (HTTPS, a subprocess), points Django at a fresh SQLite
database in a temporary VAR_DIR (or at --database-url, which must be an empty database), migrates
it, saves one connection for the sandbox's demo app, and calls ``sync.run_sync`` in this process
(no worker, no broker). Three runs:

1. a full read (999 users a page, ``$count``, a deltaLink for later);
2. a delta run after 100 users changed in the sandbox (the changes applied to a copy of run 1);
3. a full read again under tracemalloc, for the peak of Python allocations (tracemalloc slows
   the run down, so its rate is not the one to quote).

For each: rows, pages, seconds, rows/s; then the process's peak resident memory (ru_maxrss).
"""
from __future__ import annotations

import argparse
import os
import resource
import secrets
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))   # run as a script from anywhere


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("users", nargs="?", type=int, default=20_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    from graphsandbox.testing import start_sandbox

    var_dir = tempfile.mkdtemp(prefix="gc-bench-sync-")
    print(f"starting a sandbox with {args.users:,} users…", flush=True)
    sandbox = start_sandbox(users=args.users, groups=10, seed=11)
    try:
        os.environ.update({
            "VAR_DIR": var_dir, "DATABASE_URL": args.database_url or f"sqlite:///{var_dir}/bench.sqlite3",
            "GRAPH_SANDBOX_URL": sandbox.base_url, "GRAPH_CA_BUNDLE": sandbox.ca_path, "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "graphconn.settings",
            # DEBUG off: with it on, Django keeps the text of every query (each page's INSERT) in memory.
            "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        })
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        bench(sandbox, args.users)
    finally:
        sandbox.stop()


def bench(sandbox, users: int) -> None:
    from connections import sync
    from connections.models import Connection, SyncRun, Team

    team = Team.objects.create(name="bench")
    connection = Connection.objects.create(
        team=team, name="bench users", tenant=sandbox.tenant_id, client_id=sandbox.client_id,
        client_secret=sandbox.client_secret, service_url=sandbox.graph_url,
        token_url=f"{sandbox.base_url}/{sandbox.tenant_id}/oauth2/v2.0/token",
        scope="https://graph.microsoft.com/.default", entity="users")

    def run(label: str) -> SyncRun:
        sync_run = SyncRun.objects.create(connection=connection, entity=connection.entity)
        started = time.perf_counter()
        result = sync.run_sync(connection, sync_run, None)
        seconds = time.perf_counter() - started
        sync_run.refresh_from_db()
        assert result["ok"], sync_run.error
        changes = f"  +{sync_run.added} ~{sync_run.changed} -{sync_run.removed}" if sync_run.compared else ""
        print(f"{label:34s} {sync_run.mode:5s} {sync_run.rows:>8,} rows {sync_run.pages:>4} pages "
              f"{seconds:7.2f} s {sync_run.rows / seconds:>9,.0f} rows/s "
              f"{sync_run.bytes / 2**20:7.1f} MiB read{changes}", flush=True)
        return sync_run

    first = run("1. full read")
    assert first.rows == users, (first.rows, users)
    for index, item in enumerate(first.records.values_list("key", flat=True)[:100]):
        sandbox.control.patch(f"/_sandbox/users/{item}", {"jobTitle": f"Benchmark title {index}"})
    second = run("2. delta after 100 changes")
    assert second.changed == 100, second.changed
    SyncRun.objects.filter(pk=second.pk).update(delta_link="")   # force the next run to read everything
    tracemalloc.start()
    run("3. full read under tracemalloc")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak Python allocations during run 3 (tracemalloc): {peak / 2**20:.1f} MiB")
    print(f"peak resident memory of the process (ru_maxrss):    "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
