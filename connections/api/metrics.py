"""``/metrics`` for Prometheus: every figure is read from the database when scraped.

A custom collector rather than counters kept in process memory: the web processes and the
workers share nothing but the database, which already holds every run, token fetch, job and
heartbeat, so whichever process answers the scrape reports what all of them did (multi-process
safe with no shared folder or push gateway). Counters and histograms are totals over the rows the
database keeps: pruning old runs (``SYNC_RUNS_KEPT``) can lower them, which Prometheus reads as a
counter reset. The alert rules in docs/api.md therefore use the gauges.

Labels are connection ids and team slugs only: no names, secrets or personal data.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count, Max, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from connections import credentials
from connections.library.audit import client_ip
from connections.library.status import Health, attach_last_syncs, fill_status, health, problems, with_status
from connections.models import Connection, Job, SyncRun, TokenFetch, WorkerHeartbeat

DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
ROWS_BUCKETS = (10.0, 100.0, 1000.0, 10000.0, 100000.0, 1000000.0)
LABELS = ["connection", "team"]


def _histogram(name: str, doc: str, buckets: tuple[float, ...], values: dict[tuple[str, str], list[float]]) -> Any:
    family = HistogramMetricFamily(name, doc, labels=LABELS)
    for labels, seen in sorted(values.items()):
        counts = [sum(1 for v in seen if v <= bound) for bound in buckets]
        family.add_metric(
            list(labels),
            [*((str(bound), count) for bound, count in zip(buckets, counts, strict=True)), ("+Inf", len(seen))],
            sum(seen),
        )
    return family


def _interval_seconds(connection: Connection) -> float | None:
    """How often the connection's schedule runs (for a cron expression, the gap after its next run)."""
    try:
        schedule = connection.sync_schedule
    except Connection.sync_schedule.RelatedObjectDoesNotExist:
        return None
    task = schedule.periodic_task
    if not schedule.enabled or task is None or not task.enabled:
        return None
    try:
        every = getattr(task.schedule, "run_every", None)
        if isinstance(every, dt.timedelta) and every.total_seconds() > 0:
            return every.total_seconds()
        first = schedule.next_run()
        if first is None:
            return None
        return (timezone.now() + task.schedule.remaining_estimate(first) - first).total_seconds() or None
    except Exception:  # a schedule beat cannot read gives no figure rather than no scrape
        return None


class DatabaseCollector(Collector):
    """Reads every figure at scrape time (see the module's docstring)."""

    def _throttle(self, labels: Callable[[Any], tuple[str, str]]) -> Iterator[Any]:
        """What finished runs spent of Graph's throttle budget and how long they waited for it."""
        spent = SyncRun.objects.filter(status__in=SyncRun.FINISHED).values("connection_id")
        totals = spent.annotate(
            units=Sum("resource_units"),
            budget=Sum("budget_wait_seconds"),
            waited_429=Sum("throttle_wait_seconds"),
            throttled_runs=Count("pk", filter=Q(throttle_wait_seconds__gt=0)),
        ).order_by("connection_id")
        families = {
            "units": CounterMetricFamily(
                "graphconn_graph_resource_units", "Resource units Graph charged finished syncs", labels=LABELS
            ),
            "budget": CounterMetricFamily(
                "graphconn_graph_budget_wait_seconds",
                "Seconds finished syncs waited for the shared throttle budget",
                labels=LABELS,
            ),
            "waited_429": CounterMetricFamily(
                "graphconn_graph_throttled_wait_seconds",
                "Seconds finished syncs waited out after Graph answered 429",
                labels=LABELS,
            ),
            "throttled_runs": CounterMetricFamily(
                "graphconn_graph_throttled_runs", "Finished syncs that met at least one 429 from Graph", labels=LABELS
            ),
        }
        for row in totals:
            values: dict[str, Any] = dict(row)
            for name, family in families.items():
                family.add_metric(list(labels(values["connection_id"])), float(values[name] or 0))
        yield from families.values()

    def collect(self) -> Iterator[Any]:
        now = timezone.now()
        teams = {}
        read: list[Connection] = list(
            with_status(
                Connection.objects.select_related(
                    "team",
                    "certificate",
                    "sync_schedule__periodic_task__interval",
                    "sync_schedule__periodic_task__crontab",
                )
            )
            .annotate(in_use_end=credentials.in_use_end_subquery())
            .order_by("pk")
        )
        connections = [fill_status(row, now) for row in attach_last_syncs(read)]
        for connection in connections:
            teams[connection.pk] = slugify(connection.team.name)

        def labels(connection_id: Any) -> tuple[str, str]:
            return (str(connection_id), teams.get(connection_id, ""))

        syncs = CounterMetricFamily(
            "graphconn_syncs", "Finished sync runs (kept in the database) by result", labels=[*LABELS, "result"]
        )
        finished = (
            SyncRun.objects.filter(status__in=SyncRun.FINISHED)
            .values("connection_id", "status")
            .annotate(n=Count("pk"))
            .order_by("connection_id", "status")
        )
        for row in finished:
            syncs.add_metric([*labels(row["connection_id"]), row["status"]], row["n"])
        yield syncs

        durations: dict[tuple[str, str], list[float]] = defaultdict(list)
        rows: dict[tuple[str, str], list[float]] = defaultdict(list)
        done = SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED).values_list(
            "connection_id", "started_at", "finished_at", "rows"
        )
        for connection_id, started, ended, count in done.iterator():
            if started and ended:
                durations[labels(connection_id)].append(max(0.0, (ended - started).total_seconds()))
            rows[labels(connection_id)].append(float(count))
        yield _histogram(
            "graphconn_sync_duration_seconds", "How long successful syncs took", DURATION_BUCKETS, durations
        )
        yield _histogram("graphconn_sync_rows", "Rows read by successful syncs", ROWS_BUCKETS, rows)

        yield from self._throttle(labels)

        fetches = CounterMetricFamily(
            "graphconn_token_fetches", "Token fetches by result (ok, failed)", labels=[*LABELS, "result"]
        )
        by_result = (
            TokenFetch.objects.filter(finished_at__isnull=False)
            .values("connection_id", "ok")
            .annotate(n=Count("pk"))
            .order_by("connection_id", "ok")
        )
        for fetched in by_result:
            fetches.add_metric([*labels(fetched["connection_id"]), "ok" if fetched["ok"] else "failed"], fetched["n"])
        yield fetches

        expiry = GaugeMetricFamily(
            "graphconn_credential_expiry_seconds",
            "Seconds until the credential a connection uses ends (negative: ended); no series when unknown",
            labels=LABELS,
        )
        failing = GaugeMetricFamily(
            "graphconn_connection_failing", "1 while the health board shows the connection failing", labels=LABELS
        )
        interval = GaugeMetricFamily(
            "graphconn_schedule_interval_seconds", "How often the connection's sync schedule runs", labels=LABELS
        )
        today = timezone.localdate()
        for connection in connections:
            ends = credentials.expiry(connection, today)
            connection.expiry = ends  # problems reads it
            if ends.ends_on is not None:
                ends_at = _end_of(connection, ends.ends_on)
                expiry.add_metric(list(labels(connection.pk)), (ends_at - now).total_seconds())
            found = problems(connection)
            failing.add_metric(list(labels(connection.pk)), float(health(connection, found, ends) == Health.FAILING))
            every = _interval_seconds(connection)
            if every:
                interval.add_metric(list(labels(connection.pk)), every)
        yield expiry
        yield failing
        yield interval

        newest = GaugeMetricFamily(
            "graphconn_last_success_age_seconds",
            "Seconds since the connection's newest successful sync finished",
            labels=LABELS,
        )
        last = (
            SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED)
            .values("connection_id")
            .annotate(at=Max("finished_at"))
            .order_by("connection_id")
        )
        for newest_run in last:
            if newest_run["at"] is not None:
                newest.add_metric(list(labels(newest_run["connection_id"])), (now - newest_run["at"]).total_seconds())
        yield newest

        queued = GaugeMetricFamily("graphconn_runs_queued", "Sync runs waiting in the queue")
        queued.add_metric([], SyncRun.objects.filter(status=SyncRun.Status.QUEUED).count())
        yield queued
        jobs = GaugeMetricFamily("graphconn_jobs_queued", "Jobs of any kind waiting in the queue")
        jobs.add_metric([], Job.objects.filter(state=Job.State.QUEUED).count())
        yield jobs

        heartbeat = WorkerHeartbeat.objects.aggregate(at=Max("last_seen"))["at"]
        if heartbeat is not None:
            age = GaugeMetricFamily(
                "graphconn_worker_heartbeat_age_seconds", "Seconds since the freshest worker heartbeat"
            )
            age.add_metric([], max(0.0, (now - heartbeat).total_seconds()))
            yield age


def _end_of(connection: Connection, ends_on: dt.date) -> dt.datetime:
    """The exact end when Entra or the certificate gave one, else the start of the day typed."""
    exact = [
        t
        for t in (
            getattr(connection, "in_use_end", None),
            getattr(getattr(connection, "certificate", None), "not_after", None)
            if connection.uses_certificate
            else None,
        )
        if t
    ]
    if exact:
        return min(exact)
    return timezone.make_aware(dt.datetime.combine(ends_on, dt.time.min))


def render() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    return generate_latest(registry)


def allowed(request: HttpRequest) -> bool:
    """The scrape carries ``METRICS_TOKEN`` as a bearer token, or comes from ``METRICS_ALLOWED_IPS``."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    address = client_ip(request)
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    # Each entry was checked at start-up (settings).
    return any(ip in ipaddress.ip_network(network, strict=False) for network in settings.METRICS_ALLOWED_IPS)


@login_not_required
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        refused = HttpResponse(
            "Metrics need the bearer token set in METRICS_TOKEN, or an address in METRICS_ALLOWED_IPS.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        refused["WWW-Authenticate"] = 'Bearer realm="graphconn metrics"'
        return refused
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
