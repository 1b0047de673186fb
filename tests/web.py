"""The production web server (gunicorn, as docker/start-web runs it) in a subprocess, on the test
database and broker: what a web request does there happens in a process that imported only what
serving pages imports, as in production (the test process has imported far more by then)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.test import Client

from tests.processes import stop_process

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebProcess:
    """``gunicorn graphconn.wsgi`` with the tests' settings; ``stop()`` ends it."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        path = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # the venv's gunicorn
        self.env = {**env, "PUBLIC_BASE_URL": self.url, "PATH": path}
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def callback(self) -> str:
        """The OAuth callback of this server (what a connection's redirect URL is set to)."""
        return f"{self.url}/connections/oauth/callback"

    def start(self, timeout: float = 30) -> None:
        script = (ROOT / "docker" / "start-web").read_text().replace("\\\n", " ")
        command = re.search(r"^exec (gunicorn .+)$", script, flags=re.M).group(1)  # type: ignore[union-attr]
        command = command.replace("0.0.0.0:8000", f"127.0.0.1:{self.port}").replace('"${GUNICORN_WORKERS:-3}"', "2")
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            ["sh", "-c", f"exec {command}"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if requests.get(f"{self.url}/healthz/live", timeout=5).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"gunicorn not answering after {timeout} s; see {self.log_path}")

    def browser(self, user: Any) -> Browser:
        """A browser session of ``user`` on this server (logged in through the session store)."""
        client = Client()
        client.force_login(user)
        return Browser(self, client.cookies[settings.SESSION_COOKIE_NAME].value)

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


class Browser:
    """What a browser does against the web process: pages, forms with their CSRF token, redirects."""

    def __init__(self, web: WebProcess, session_key: str) -> None:
        self.web = web
        self.http = requests.Session()
        self.http.cookies.set(settings.SESSION_COOKIE_NAME, session_key, domain="127.0.0.1")

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else self.web.url + path
        return self.http.get(url, timeout=30, **kwargs)

    def post_form(
        self, page: str, data: dict[str, Any], files: dict[str, Any] | None = None, *, to: str = ""
    ) -> requests.Response:
        """Submit a form of ``page`` (to ``to``, default the page itself) with the CSRF token read
        from the page; redirects are not followed."""
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.get(page).text)
        assert found, f"no form on {page}"
        return self.http.post(
            self.web.url + (to or page),
            data={"csrfmiddlewaretoken": found.group(1), **data},
            files=files,
            headers={"Referer": self.web.url + page},
            allow_redirects=False,
            timeout=30,
        )


def web_env(sandbox: Any, broker_env: dict[str, str]) -> dict[str, str]:
    """What the web process needs to share the tests' database, broker, sandbox and keys."""
    import os

    from tests.worker import test_database_url

    return {
        **os.environ,
        **broker_env,
        "DATABASE_URL": test_database_url(),
        "GRAPH_SANDBOX_URL": sandbox.base_url,
        "GRAPH_CA_BUNDLE": sandbox.ca_path,
        "APP_PERMISSIONS_URL_TEMPLATE": sandbox.portal_url,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "SECRET_KEY": settings.SECRET_KEY,
        "ALERT_WEBHOOK_HOSTS": ",".join(settings.ALERT_WEBHOOK_HOSTS),
    }
