"""A real Celery worker in a subprocess, consuming the same broker and test database as the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

from tests.processes import stop_process

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """DATABASE_URL of the test database that pytest-django created (the worker must use it)."""
    db = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    original = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(original._replace(path="/" + db["NAME"]))


class WorkerProcess:
    """Starts ``celery worker`` with the tests' settings; ``stop()`` shuts it down warmly."""

    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 4, name: str | None = None) -> None:
        self.env = env
        self.log_path = log_path
        self.concurrency = concurrency
        self.name = name  # its node name before the @ (default: one per test process)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "graphconn",
                "worker",
                "--pool",
                self.env.get("CELERY_POOL", "threads"),
                "--concurrency",
                str(self.concurrency),
                "--loglevel",
                "INFO",
                "--hostname",
                f"{self.name or f'test-worker-{os.getpid()}'}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        """Waits for the worker's heartbeat row: proof that it started and reached the database."""
        from connections.models import WorkerHeartbeat

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}; see {self.log_path}")
            beats = WorkerHeartbeat.objects.all()
            if self.name:
                beats = beats.filter(hostname__startswith=f"{self.name}@", pid=self.proc.pid)
            if beats.exists():
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready after {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()

    def kill(self) -> None:
        """SIGKILL, as an out-of-memory killer or a pulled plug would: no shutdown of any kind."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def start_beat(env: dict[str, str], log: IO[bytes], folder: Path) -> subprocess.Popen:
    """``celery beat`` with the database scheduler (as the project runs it), its output to ``log``;
    ``folder`` takes the schedule file the scheduler never uses."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "graphconn",
            "beat",
            "--loglevel",
            "INFO",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
            "--schedule",
            str(folder / "unused"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
