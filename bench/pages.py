"""Page latency as a person feels it: the connection list, a connection's page with 20 runs, a run's
page and the log-in page, each under 1, 10 and 20 concurrent clients.

Run: .venv/bin/python bench/pages.py [--clients 1,10,20] [--requests 300] [--connections 30]
       [--database-url URL]

It migrates the database (--database-url or DATABASE_URL: an empty database, e.g.
postgres://postgres@127.0.0.1:5432/graphconn_bench; without either, SQLite in a temporary VAR_DIR),
saves a team with N connections (each with a token and a last sync), on the first 20 sync runs
(some failed, with their diagnoses) and 200 records in its newest run, then starts the web server
exactly as production does (docker/start-web's gunicorn command: sync workers, the access log),
with 2 workers (GUNICORN_WORKERS; one per core of a 2-core host) and DEBUG off. For each number of
clients and each page, that many client threads share a bounded number of requests (each client
the same share) after a warm-up; it prints the median (p50) and 95th percentile (p95) of the
latencies and the requests per second.

The floor, measured in the same run: the same clients asking for /healthz/live, which answers
without reading anything: what the machine, gunicorn and the clients themselves add to any page.
Target: p95 <= 150 ms at 20 clients for every page.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

TARGET_P95_MS = 150
WARM_UP = 10  # requests per page before measuring: each worker's templates and caches filled
WORKERS = "2"
FLOOR = "/healthz/live"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,10,20", help="numbers of concurrent clients, comma-separated")
    parser.add_argument("--requests", type=int, default=300, help="requests per page and number of clients")
    parser.add_argument("--connections", type=int, default=30)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    args = parser.parse_args()
    levels = [int(n) for n in args.clients.split(",") if n.strip()]

    var_dir = tempfile.mkdtemp(prefix="gc-bench-pages-")
    env = {
        "VAR_DIR": var_dir,
        "DATABASE_URL": args.database_url or f"sqlite:///{var_dir}/bench.sqlite3",
        "DJANGO_SETTINGS_MODULE": "graphconn.settings",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from connections.models import Connection

    call_command("migrate", verbosity=0)
    if Connection.objects.exists():
        sys.exit("The benchmark needs an empty database: this one has connections.")
    call_command("collectstatic", verbosity=0, interactive=False)
    cookie, urls = populate(args.connections)
    pages = {"list": (urls["list"], cookie), "detail": (urls["detail"], cookie), "run": (urls["run"], cookie)}
    pages["login"] = ("/accounts/login/", None)
    port = _free_port()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # this venv's gunicorn
    server = subprocess.Popen(
        ["sh", "-c", f"exec {_production_command(port)}"],
        cwd=ROOT,
        # docker/start-web exports DATABASE_PREPARED_STATEMENTS=true for the web process: so here.
        env={**os.environ, **env, "GUNICORN_WORKERS": WORKERS, "PATH": path, "DATABASE_PREPARED_STATEMENTS": "true"},
        stdout=subprocess.DEVNULL,  # the access log
    )
    results: dict[tuple[str, int], tuple[float, float, float]] = {}
    try:
        _wait_up(port)
        for url, session in pages.values():
            measure(port, url, session, clients=2, total=WARM_UP)
        for clients in levels:
            for name, (url, session) in pages.items():
                results[name, clients] = measure(port, url, session, clients, args.requests)
            results["floor", clients] = measure(port, FLOOR, None, clients, args.requests)
    finally:
        server.terminate()
        server.wait(10)

    database = "PostgreSQL" if env["DATABASE_URL"].startswith("postgres") else "SQLite"
    print(
        f"gunicorn as docker/start-web runs it, {WORKERS} sync workers, {database}, {args.connections} connections, "
        "detail page with 20 runs, "
        f"run page of 200 records; {args.requests} requests per page and level, shared by the clients"
    )
    print(f"{'page':8s} {'clients':>7s} {'p50 ms':>8s} {'p95 ms':>8s} {'req/s':>7s}")
    for (name, clients), (p50, p95, rate) in sorted(results.items(), key=lambda item: (item[0][1], item[0][0])):
        print(f"{name:8s} {clients:7d} {p50 * 1000:8.1f} {p95 * 1000:8.1f} {rate:7.0f}")
    most = max(levels)
    worst = max(results[name, most][1] for name in pages) * 1000
    floor = results["floor", most][1] * 1000
    verdict = "met" if worst <= TARGET_P95_MS else f"missed by {worst - TARGET_P95_MS:.0f} ms"
    print(f"slowest p95 at {most} clients: {worst:.0f} ms (target <= {TARGET_P95_MS} ms: {verdict})")
    print(f"floor ({FLOOR}, nothing read) p95 at {most} clients: {floor:.0f} ms")


def populate(count: int) -> tuple[str, dict[str, str]]:
    """A team admin's session cookie, and the URLs of the list, the connection with 20 runs and its newest run."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.utils import timezone

    from connections.models import Connection, ConnectionToken, Job, Membership, SyncRun, SyncVersion, Team

    user = get_user_model().objects.create_user("bench", password=secrets.token_urlsafe(12))
    team = Team.objects.create(name="Bench team")
    Membership.objects.create(user=user, team=team, role="admin")
    now = timezone.now()
    first: Connection | None = None
    newest: SyncRun | None = None
    for index in range(count):
        connection = Connection.objects.create(
            team=team,
            name=f"Connection {index:03d}",
            tenant="contoso.onmicrosoft.com",
            client_id="6731de76-14a6-49ae-97bc-6eba6914391e",
            client_secret=f"secret-{index}-value~abcdefghijkl",
            token_url="https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
            scope="https://graph.microsoft.com/.default",
            entity="users",
            secret_expires_on=(now + timedelta(days=20)).date(),
            created_by=user,  # as when made on the dashboard: the page names who made and changed it
            updated_by=user,
        )
        ConnectionToken.objects.create(
            connection=connection,
            state="valid",
            access_token="x" * 1200,
            expires_at=now + timedelta(hours=1),
            permissions=["User.Read.All"],
        )
        first = first or connection
        for run in range(20 if connection is first else 1):
            job = Job.objects.create(kind=Job.Kind.SYNC, connection=connection, state="succeeded", sent_at=now)
            failed = run % 4 == 3
            error = {
                "key": "graph.server_error",
                "severity": "error",
                "title": "Microsoft Graph had a problem",
                "explanation": "x" * 400,
                "evidence": [["HTTP status", "503"]] * 6,
                "steps": [{"text": "Try again.", "action": "retry", "url": None}],
                "kept": False,
            }
            made = SyncRun.objects.create(
                connection=connection,
                job=job,
                entity="users",
                status="failed" if failed else "succeeded",
                created_at=now - timedelta(minutes=run),
                started_at=now - timedelta(minutes=run),
                finished_at=now - timedelta(minutes=run) + timedelta(seconds=30),
                pages=5,
                rows=0 if failed else 4000,
                bytes=1_000_000,
                error=error if failed else {},
                message="Read 4000 rows in 5 pages.",
            )
            if connection is first and run == 0:
                newest = made
    assert first is not None and newest is not None
    newest.seq = 1
    newest.save(update_fields=["seq"])
    SyncVersion.objects.bulk_create(
        SyncVersion(
            stream_id=newest.stream_id,
            key=f"{index:08d}-0000-0000-0000-000000000000",
            valid_from=1,
            digest=f"{index:032d}",
            data={"id": f"{index:08d}", "displayName": f"Person {index}", "mail": f"person{index}@contoso.com"},
        )
        for index in range(200)
    )
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    assert session.session_key is not None
    detail = f"/connections/{first.pk}/"
    return session.session_key, {"list": "/", "detail": detail, "run": f"{detail}syncs/{newest.pk}/"}


def _production_command(port: int) -> str:
    """docker/start-web's gunicorn command line, bound to ``port`` on the loopback."""
    script = (ROOT / "docker" / "start-web").read_text().replace("\\\n", " ")
    found = re.search(r"^exec (gunicorn .+)$", script, flags=re.M)
    if found is None:
        raise RuntimeError("docker/start-web has no 'exec gunicorn' line")
    return found.group(1).replace("0.0.0.0:8000", f"127.0.0.1:{port}")


def _get(port: int, path: str, headers: dict[str, str]) -> int:
    """One page, read to its end, as a browser asks for it: a new connection (sync workers close
    each one). http.client rather than requests: the clients share these 2 cores with the server."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def measure(port: int, path: str, session_key: str | None, clients: int, total: int) -> tuple[float, float, float]:
    """(p50, p95 in seconds, requests per second) of ``total`` requests shared by ``clients`` threads."""
    headers = {"Host": "127.0.0.1", "Accept-Encoding": "gzip, deflate"}
    if session_key:
        headers["Cookie"] = f"sessionid={session_key}"
    each = max(1, total // clients)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        mine = []
        for _ in range(each):
            started = time.perf_counter()
            status = _get(port, path, headers)
            mine.append(time.perf_counter() - started)
            if status != 200:
                failures.append(f"{path}: {status}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0]}")
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return statistics.median(latencies), cuts[94], len(latencies) / elapsed


def _wait_up(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _get(port, FLOOR, {"Host": "127.0.0.1"})
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    main()
