"""Child processes the tests start (web server, worker, beat): one way to end them."""

from __future__ import annotations

import subprocess


def stop_process(proc: subprocess.Popen | None, grace: float = 20) -> None:
    """SIGTERM, so the process shuts down warmly (a worker finishes its tasks); SIGKILL if it is still
    there after ``grace`` seconds. A process that never started or already ended is left as it is."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
