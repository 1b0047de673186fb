"""Start a sandbox in a subprocess for tests (the sandbox's own and the dashboard's).

    sandbox = start_sandbox(users=30)
    token = sandbox.token()                      # client-credentials token of the demo app
    sandbox.control.post("faults", {"path": "/v1.0/users", "status": 429, "count": 1})
    sandbox.set_costs(latency=True, latency_scale=0.01, budget=True)   # Graph's latency and budget
    sandbox.account()["throttled"]               # 429s the demo app met (also units, peak windows…)
    sandbox.stop()

Stable interface: ``base_url``, ``ca_path``, ``tenant_id``, ``tenant_domain``, ``client_id``,
``client_secret``, ``stop()``, ``control.get/post/patch/delete(path, json=None)``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import queue
import re
import secrets
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Sequence
from urllib.parse import parse_qs, urlsplit

import requests

START_TIMEOUT = 60.0


def _session(verify: str | bool) -> requests.Session:
    session = requests.Session()
    session.verify = verify
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override Session.verify when trust_env is
    # on, which would make the sandbox's CA be ignored on machines that set them.
    session.trust_env = False
    return session


class ControlClient:
    """Calls ``/_sandbox/...``; answers are parsed JSON, and a 4xx/5xx raises ``requests.HTTPError``."""

    def __init__(self, base_url: str, verify: str | bool) -> None:
        self.base_url = base_url
        self.session = _session(verify)

    def _url(self, path: str) -> str:
        path = path if path.startswith("/_sandbox") else "/_sandbox/" + path.lstrip("/")
        return self.base_url + path

    def request(self, method: str, path: str, json: Any = None) -> Any:
        response = self.session.request(method, self._url(path), json=json, timeout=30)
        if response.status_code >= 400:
            raise requests.HTTPError(f"{method} {path}: {response.status_code} {response.text}", response=response)
        return response.json() if response.content else None

    def get(self, path: str, json: Any = None) -> Any:
        return self.request("GET", path, json)

    def post(self, path: str, json: Any = None) -> Any:
        return self.request("POST", path, json)

    def patch(self, path: str, json: Any = None) -> Any:
        return self.request("PATCH", path, json)

    def delete(self, path: str, json: Any = None) -> Any:
        return self.request("DELETE", path, json)


@dataclass
class RunningSandbox:
    base_url: str
    ca_path: str | None
    tenant_id: str
    tenant_domain: str
    client_id: str
    client_secret: str
    state_dir: str
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: str = ""

    def __post_init__(self) -> None:
        self.control = ControlClient(self.base_url, self.verify)

    @property
    def verify(self) -> str | bool:
        """What ``requests``/``httpx`` need as ``verify`` to trust this sandbox."""
        return self.ca_path or True

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{self.tenant_id}"

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    @property
    def portal_url(self) -> str:
        """The sandbox's stand-in for the app registration pages of the Azure portal."""
        return f"{self.base_url}/_sandbox/portal"

    def token_url(self, tenant: str | None = None, *, v2: bool = True) -> str:
        return f"{self.base_url}/{tenant or self.tenant_id}/oauth2/{'v2.0/' if v2 else ''}token"

    def session(self) -> requests.Session:
        """A ``requests.Session`` trusting the sandbox's CA (for MSAL's ``http_client`` too)."""
        return _session(self.verify)

    def token(self, client_id: str | None = None, client_secret: str | None = None) -> str:
        """A fresh v2 client-credentials access token (the demo app's by default)."""
        response = self.token_call(
            grant_type="client_credentials",
            client_id=client_id or self.client_id,
            client_secret=client_secret or self.client_secret,
            scope="https://graph.microsoft.com/.default",
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def token_call(self, *, v2: bool = True, tenant: str | None = None, **form: str) -> requests.Response:
        """POST a token request with exactly the given form fields; the raw answer."""
        return self.session().post(self.token_url(tenant, v2=v2), data=form, timeout=30)

    def sign_in(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        scope: str = "",
        state: str = "state-1",
        challenge: str | None = None,
        v1: bool = False,
        tenant: str | None = None,
        user: str | None = None,
        action: str = "accept",
        extra: dict[str, str] | None = None,
    ) -> dict[str, str]:
        """Open the authorize page, pick a user (the first listed by default) and submit the form,
        as a person would; returns the query of the redirect to ``redirect_uri``."""
        url = f"{self.base_url}/{tenant or self.tenant_id}/oauth2/{'' if v1 else 'v2.0/'}authorize"
        params: dict[str, str] = {
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "state": state,
            **(extra or {}),
        }
        if scope:
            params["scope"] = scope
        if challenge:
            params.update(code_challenge=challenge, code_challenge_method="S256")
        http = self.session()
        page = http.get(url, params=params, timeout=30)
        if page.status_code != 200:
            raise AssertionError(f"authorize page answered {page.status_code}: {page.text[:500]}")
        listed = re.findall(r'name="user" value="([^"]+)"', page.text)
        answer = http.post(
            url, data={**params, "user": user or listed[0], "action": action}, allow_redirects=False, timeout=30
        )
        location = answer.headers.get("Location", "")
        if answer.status_code != 302 or not location.startswith(redirect_uri):
            raise AssertionError(f"authorize answered {answer.status_code} {location}: {answer.text[:500]}")
        return {k: v[-1] for k, v in parse_qs(urlsplit(location).query).items()}

    def reset(self) -> None:
        self.control.post("reset")

    def costs(self) -> dict[str, Any]:
        """Graph's cost model and its counters: ``settings``, ``budget_limit``, ``model`` (the modelled
        times), ``accounts`` (per ``<app id>/<tenant id>``: ``units``, ``throttled``, ``peak_window_units``,
        ``peak_window_fraction``, ``peak_limit_fraction``, ``latency_seconds``…) and ``peak_in_flight``."""
        return dict(self.control.get("costs"))

    def set_costs(self, **settings: Any) -> dict[str, Any]:
        """Change the cost model, e.g. ``set_costs(latency=True, latency_scale=0.01, budget=True,
        budget_units=500)``; buckets start full again. ``reset()`` turns it back off."""
        return dict(self.control.post("costs", settings))

    def account(self, client_id: str | None = None) -> dict[str, Any]:
        """One app's budget counters (zeros before its first Graph request)."""
        key = f"{client_id or self.client_id}/{self.tenant_id}"
        return dict(self.costs()["accounts"].get(key) or {"units": 0, "throttled": 0, "requests": 0})

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def pkce_pair() -> tuple[str, str]:
    """A PKCE (verifier, S256 challenge) pair."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _pump(stream: IO[bytes], lines: queue.Queue[bytes | None]) -> None:
    """Read the child's stdout to the end so it can never block on a full pipe."""
    for line in iter(stream.readline, b""):
        lines.put(line)
    lines.put(None)


def _child_env() -> dict[str, str]:
    """The child must import this very package, wherever the caller's cwd is."""
    root = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}


def start_sandbox(
    *,
    users: int = 50,
    groups: int | None = 10,
    seed: int = 1,
    http: bool = False,
    extra_args: Sequence[str] = (),
    state_dir: str | os.PathLike[str] | None = None,
    host: str = "127.0.0.1",
) -> RunningSandbox:
    """Run ``python -m graphsandbox --port 0`` and wait for its JSON line."""
    state = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="graphsandbox-"))
    state.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "graphsandbox",
        "--host",
        host,
        "--port",
        "0",
        "--users",
        str(users),
        "--seed",
        str(seed),
        "--state-dir",
        str(state),
    ]
    if groups is not None:
        command += ["--groups", str(groups)]
    if http:
        command.append("--http")
    command += list(extra_args)
    log_path = state / "sandbox.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=_child_env()
        )
    assert process.stdout is not None
    lines: queue.Queue[bytes | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            process.kill()
            raise RuntimeError(f"the sandbox did not start within {START_TIMEOUT:.0f}s; see {log_path}") from None
        if line is None:
            process.wait()
            raise RuntimeError(
                f"the sandbox exited with {process.returncode}: {log_path.read_text(errors='replace')[-2000:]}"
            )
        if line.lstrip().startswith(b"{"):
            info = json.loads(line)
            break
    return RunningSandbox(
        base_url=info["base_url"],
        ca_path=info["ca_path"],
        tenant_id=info["tenant_id"],
        tenant_domain=info["tenant_domain"],
        client_id=info["client_id"],
        client_secret=info["client_secret"],
        state_dir=str(state),
        process=process,
        log_path=str(log_path),
    )
