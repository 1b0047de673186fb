"""The benchmarks' shared set-up: sandboxes (one CA for all), a fresh database, Django pointed at
them, a sandbox connection, and real worker processes.

Imported by the scripts beside it; run alone it does nothing (``make bench`` runs every script here).
"""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere


def machine(database: str) -> str:
    """One line naming the machine, its load and the database, for the top of a benchmark's output."""
    load = os.getloadavg()
    return (
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {database}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} {five:.1f} {fifteen:.1f}"


def start_sandboxes(specs: Sequence[dict[str, Any]], extra_args: Sequence[str] = ()) -> list[Any]:
    """One sandbox process per spec (``start_sandbox`` keywords, plus ``extra_args`` of its own),
    all serving certificates of one CA, so one bundle trusts them all."""
    from graphsandbox.testing import start_sandbox

    running: list[Any] = []
    try:
        for spec in specs:
            spec = dict(spec)
            args = [*extra_args, *spec.pop("extra_args", ())]
            state = Path(tempfile.mkdtemp(prefix="graphsandbox-bench-"))
            if running:
                for name in ("ca.pem", "ca-key.pem"):
                    shutil.copy(Path(running[0].ca_path).parent / name, state / name)
            running.append(start_sandbox(state_dir=state, extra_args=args, **spec))
    except BaseException:
        for sandbox in running:
            sandbox.stop()
        raise
    return running


def database(url: str, var_dir: str) -> tuple[str, Callable[[], None] | None]:
    """A fresh database: SQLite in ``var_dir``, or a throwaway PostgreSQL database beside ``url``
    (and the function that drops it)."""
    if not url.startswith("postgres"):
        return f"sqlite:///{var_dir}/bench.sqlite3", None
    import psycopg

    name = f"gc_bench_{secrets.token_hex(4)}"
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(urlsplit(url)._replace(path="/" + name)), drop


def configure(sandboxes: Sequence[Any], database_url: str, var_dir: str, **extra: str) -> dict[str, str]:
    """Point this process (and the environment its workers inherit) at ``sandboxes`` and the
    database, set Django up and migrate; returns the environment set. The first sandbox is
    GRAPH_SANDBOX_URL; every sandbox's host and port is allowed."""
    from cryptography.fernet import Fernet

    first = sandboxes[0]
    hosts = [f"{urlsplit(s.base_url).hostname}:{urlsplit(s.base_url).port}" for s in sandboxes]
    env = {
        "VAR_DIR": var_dir,
        "DATABASE_URL": database_url,
        "GRAPH_SANDBOX_URL": first.base_url,
        "GRAPH_CA_BUNDLE": first.ca_path,
        "GRAPH_ALLOWED_HOSTS": ",".join(hosts),
        "LOG_LEVEL": "WARNING",
        "APP_PERMISSIONS_URL_TEMPLATE": first.portal_url,
        "DJANGO_SETTINGS_MODULE": "graphconn.settings",
        # DEBUG off: with it on, Django keeps the text of every query in memory.
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        **extra,
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


def connection(sandbox: Any, name: str = "", team: str = "bench", **fields: Any) -> Any:
    """A saved connection reading ``sandbox``'s users with its demo app (client credentials)."""
    from connections.models import Connection, Team

    owner, _ = Team.objects.get_or_create(name=team)
    return Connection.objects.create(
        team=owner,
        name=name or f"bench users {secrets.token_hex(2)}",
        tenant=sandbox.tenant_id,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        service_url=sandbox.graph_url,
        token_url=f"{sandbox.base_url}/{sandbox.tenant_id}/oauth2/v2.0/token",
        scope="https://graph.microsoft.com/.default",
        entity=fields.pop("entity", "users"),
        **fields,
    )


class Workers:
    """``count`` real ``celery worker`` processes (as the Procfile starts them) on this process's
    environment; ``stop()`` shuts them down warmly."""

    def __init__(self, count: int, concurrency: int, log_dir: str, pool: str = "threads") -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs = [Path(log_dir) / f"worker-{i}.log" for i in range(count)]
        self.concurrency, self.pool = concurrency, pool

    def start(self) -> Workers:
        """Start them one after another, each once the one before is ready (the filesystem broker's
        exchange table is written by whichever declares the queue first)."""
        for i, log_path in enumerate(self.logs):
            with open(log_path, "ab") as log:
                self.processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "celery",
                            "-A",
                            "graphconn",
                            "worker",
                            "--pool",
                            self.pool,
                            "--concurrency",
                            str(self.concurrency),
                            "--loglevel",
                            "INFO",
                            "--hostname",
                            f"bench-{i}-{os.getpid()}@%h",
                            "--without-gossip",
                            "--without-mingle",
                        ],
                        cwd=ROOT,
                        env={**os.environ, "PYTHONPATH": str(ROOT)},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        """Until every worker wrote its heartbeat row (it started and reached the database)."""
        import time

        from connections.models import WorkerHeartbeat

        deadline = time.monotonic() + timeout
        pids = {p.pid for p in self.processes}
        while time.monotonic() < deadline:
            for process, log in zip(self.processes, self.logs, strict=False):
                if process.poll() is not None:
                    raise RuntimeError(f"a worker exited with {process.returncode}: {log.read_text()[-3000:]}")
            if set(WorkerHeartbeat.objects.filter(pid__in=pids).values_list("pid", flat=True)) == pids:
                return
            time.sleep(0.3)
        raise TimeoutError(f"workers not ready after {timeout} s; see {self.logs}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
