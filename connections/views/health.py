"""Health, in the three forms orchestrators and people ask for it.

- ``/healthz/live`` (liveness): the process answers requests. It reads nothing else, so a broker or
  database outage never makes an orchestrator restart a web server that can still answer.
- ``/healthz/ready`` (readiness): this web server can serve pages, i.e. its database answers. A
  broker outage does not count: pages serve, and presses are queued until the broker is back.
- ``/healthz`` (the full report): database, broker, live workers and stuck work; 200 only when all
  are fine, for monitoring and the people reading it.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from connections.jobs.health import check_database, overall, run_checks


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = run_checks()
    status = overall(checks)
    ok = status == "ok"
    body = {
        "status": status,
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
    }
    return JsonResponse(body, status=200 if ok else 503)


@login_not_required
@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """The process is alive: it answers. Nothing else is checked."""
    return JsonResponse({"status": "alive"})


@login_not_required
@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Pages can be served: the database answers (the broker is not needed to serve them)."""
    database = check_database()
    body = {
        "status": "ready" if database.ok else "not ready",
        "checks": {"database": {"ok": database.ok, "detail": database.detail}},
    }
    return JsonResponse(body, status=200 if database.ok else 503)
