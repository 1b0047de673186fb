"""docker-compose.yml describes production; no Docker engine runs here, so it is checked here."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_it_has_the_production_services_each_with_a_healthcheck():
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    for name, service in services.items():
        assert "healthcheck" in service, name
        assert service["healthcheck"]["test"], name


def test_app_services_share_settings_and_wait_for_healthy_dependencies():
    services = _compose()["services"]
    for name in ("web", "worker", "beat"):
        service = services[name]
        env = service["environment"]
        assert env["DEBUG"] == "False"
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379")
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["web"]["healthcheck"]["test"][-1].count("/healthz") == 1


def test_every_command_exists_in_the_project():
    compose = _compose()
    dockerfile = (ROOT / compose["x-graphconn"]["build"]["dockerfile"]).read_text()
    for name in ("web", "worker", "beat"):
        script = compose["services"][name]["command"][0]
        path = ROOT / "docker" / script
        assert path.exists() and path.stat().st_mode & 0o111, f"{script} missing or not executable"
        assert f"docker/{script}" in dockerfile, f"{script} not copied into the image"
        text = path.read_text()
        for module in re.findall(r"exec gunicorn (\S+)", text):
            importlib.import_module(module)  # graphconn.wsgi
        for app in re.findall(r"exec celery -A (\S+)", text):
            assert hasattr(importlib.import_module(app), "celery_app")
    for copied in re.findall(r"^COPY (\S+) ", dockerfile, flags=re.M):
        for part in copied.split():
            assert (ROOT / part).exists(), f"Dockerfile copies missing {part}"


def test_image_holds_every_package_the_project_installs() -> None:
    """A package left out of the image imports in development and fails in production."""
    import tomllib

    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    copied = {
        part.split("/")[0] for line in re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.M) for part in line.split()
    }
    includes = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    for package in (pattern.rstrip("*") for pattern in includes):
        assert package in copied, f"the Dockerfile does not copy {package}/"


def test_the_web_health_check_keeps_a_web_server_healthy_while_the_broker_is_down(
    tmp_path, sandbox, broker_env, django_db_setup, django_db_blocker
):
    """Compose restarts an unhealthy container: the web server, which serves every page without the
    broker, must not be one. The full report still says the broker is down."""
    import subprocess
    import sys

    import requests

    from tests.web import WebProcess, free_port, web_env

    env = {**web_env(sandbox, broker_env), "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"}  # nothing there
    web = WebProcess(env, tmp_path / "gunicorn.log")
    with django_db_blocker.unblock():
        web.start()
    try:
        check = _compose()["services"]["web"]["healthcheck"]["test"]
        assert check[:2] == ["CMD", "python"]
        probe = subprocess.run(
            [sys.executable, *check[2:-1], check[-1].replace("127.0.0.1:8000", f"127.0.0.1:{web.port}")],
            capture_output=True,
            timeout=30,
        )
        report = requests.get(f"{web.url}/healthz", timeout=10)
        ready = requests.get(f"{web.url}/healthz/ready", timeout=10)
    finally:
        web.stop()

    assert probe.returncode == 0, probe.stderr.decode()[-500:]
    assert report.status_code == 503 and report.json()["checks"]["broker"]["ok"] is False
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
