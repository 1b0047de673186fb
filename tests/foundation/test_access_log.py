"""The production web command (docker/start-web) runs gunicorn whose access log never holds a query
string: the OAuth callback's query carries the authorization code."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_access_log_names_the_callback_path_but_not_its_code(tmp_path):
    script = (ROOT / "docker" / "start-web").read_text().replace("\\\n", " ")
    command = re.search(r"^exec (gunicorn .+)$", script, flags=re.M).group(1)
    port = _free_port()
    command = command.replace("0.0.0.0:8000", f"127.0.0.1:{port}").replace('"${GUNICORN_WORKERS:-3}"', "1")
    env = {**os.environ, "VAR_DIR": str(tmp_path), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            ["sh", "-c", f"exec {command}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}/connections/oauth/callback?code=AUTH-CODE-0123456789&state=abc"
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(url, allow_redirects=False, timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, log.read_text()
                time.sleep(0.2)
        deadline = time.monotonic() + 5
        while "/connections/oauth/callback" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    text = log.read_text()
    assert '"GET /connections/oauth/callback HTTP/1.1" 302' in text
    assert "AUTH-CODE" not in text
