"""Sync runs: read every page of a connection's entity into the versioned store, and compare runs.

A full run reads ``{service_url}/{entity}`` with the profile's ``$select``/``$filter`` and the
entity's largest page, following ``@odata.nextLink`` as-is. For entities with delta queries it
first asks ``…/delta?$deltatoken=latest`` for a deltaLink, so that the next run reads only what
changed since *before* this one began (changes made while paging are reported again, which is
harmless). A delta run follows the stored deltaLink and writes only the changes it received.
``syncstore`` keeps the items as versions and publishes a run atomically when it succeeds; every
run is compared with the previous successful run of the same entity, ``$select`` and ``$filter``.

Memory stays flat: one page is in memory at a time, and a full run stages it per page. (A delta
run keeps the changes themselves — usually few — in memory until they are published.) Each page
is parsed once (orjson) and each item serialised once: that text is both its digest and what is
stored. Progress is written on the first page and then at most every ``PROGRESS_EVERY`` seconds;
whether the run was cancelled is checked on every page.
"""

from __future__ import annotations

import functools
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, models, reset_queries, transaction
from django.utils import timezone

from connections import throttle
from connections.alerts import states as alerts
from connections.jobs import kinds
from connections.jobs import queue as background
from connections.library import audit
from connections.models import Connection, ConnectionToken, GraphRefusal, Job, SyncRun, SyncVersion, TokenFetch
from connections.syncs import control as synccontrol
from connections.syncs import store as syncstore
from connections.syncs.store import QUEUED_STALE_AFTER, STALE_AFTER, clean, digest, interrupt_run  # noqa: F401  (re-exported: one place for callers)
from connections.tokens import fetch as tokens
from connections.tokens import session as graphsession
from microsoft import catalogue, diagnoses, graphclient, outbound, throttling

log = logging.getLogger(__name__)

# Directory collections that give @odata.count with ConsistencyLevel: eventual (docs/microsoft-wire-facts.md, "Collections, paging, count and delta").
COUNTABLE = frozenset({"users", "groups", "devices", "applications", "servicePrincipals"})
PROGRESS_EVERY = 1.0  # seconds between progress writes


class SyncFailed(Exception):
    """The run cannot go on; ``diagnosis`` says why in the user's words."""

    def __init__(self, diagnosis: diagnoses.Diagnosis, kept: bool = False) -> None:
        super().__init__(diagnosis.title)
        self.diagnosis = diagnosis
        self.kept = kept  # also kept elsewhere (the token's error, the Graph refusal): shown under Diagnostics


class DeltaExpired(Exception):
    """Graph no longer knows the deltaLink's state: read everything again."""


class Stopped(Exception):
    """The run was cancelled, interrupted or deleted while it read: stop at this page."""


# -- starting -------------------------------------------------------------------------------------


def expire_stale_runs(connection: Connection) -> None:
    """Fail runs whose worker vanished, so they stop blocking Sync now."""
    from connections.jobs.reaper import reap

    reap(connection)  # heartbeat-based, within SYNC_STALE_AFTER_SECONDS
    now = timezone.now()
    stale = SyncRun.objects.filter(connection=connection).filter(
        models.Q(status=SyncRun.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
        | models.Q(status=SyncRun.Status.QUEUED, created_at__lt=now - QUEUED_STALE_AFTER)
    )
    for run in stale:
        _fail(run, run.job_id, diagnoses.sync.stale(run.heartbeat_at or run.created_at), user=None)


def start(connection: Connection, user: Any, *, trigger: str = SyncRun.Trigger.MANUAL) -> Job:
    """Queue a sync of ``connection`` — or return the job of the run already queued or running.

    The run and its job are created together; the partial unique constraint on active runs
    turns a double click or two people pressing at once into one run.
    """
    expire_stale_runs(connection)
    active = _active(connection)
    if active is not None and active.job is not None:
        return active.job
    run = SyncRun(
        connection=connection,
        started_by=user if getattr(user, "pk", None) else None,
        entity=connection.entity,
        odata_select=connection.odata_select,
        odata_filter=connection.odata_filter,
        trigger=trigger,
    )
    try:
        with transaction.atomic():
            run.job = background.enqueue_kind(kinds.get(Job.Kind.SYNC), connection, str(run.pk), user=user)
            run.save(force_insert=True)
    except IntegrityError:
        active = _active(connection)
        if active is None or active.job is None:
            raise
        return active.job
    return run.job


def _active(connection: Connection) -> SyncRun | None:
    return SyncRun.objects.filter(connection=connection, status__in=SyncRun.ACTIVE).select_related("job").first()


def _claim(run: SyncRun) -> bool:
    """QUEUED → RUNNING (or take over a stale RUNNING run) with one conditional UPDATE."""
    now = timezone.now()
    claimable = models.Q(status=SyncRun.Status.QUEUED) | models.Q(
        status=SyncRun.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER
    )
    claimed = (
        SyncRun.objects.filter(pk=run.pk, cancel_requested=False)
        .filter(claimable)
        .update(
            status=SyncRun.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            pages=0,
            rows=0,
            bytes=0,
            total=None,
            message="Getting a token…",
        )
    )
    if claimed:
        syncstore.discard(run)  # a taken-over run starts again from nothing
        run.refresh_from_db()
    return bool(claimed)


# -- running --------------------------------------------------------------------------------------


def run_sync(
    connection: Connection, run: SyncRun, job_id: str | None, *, page_size: int | None = None
) -> dict[str, Any]:
    """Run ``run`` to the end. A finished run, or one another worker is running, is left alone
    (so a re-delivered task is harmless). ``page_size`` overrides the entity's largest page."""
    if not _claim(run):
        run.refresh_from_db()
        return {"ok": run.status == SyncRun.Status.SUCCEEDED, "skipped": True, "status": run.status}
    user = run.started_by
    reader: _Reader | None = None
    try:
        reader = _Reader.open(connection, run, job_id, user)
        previous = _previous_run(connection, run)
        entity = catalogue.lookup(run.entity)
        use_delta = bool(previous and previous.delta_link and entity and entity.delta and not run.odata_filter)
        changes = None
        with outbound.keep_alive():  # one connection for every page
            if use_delta and previous is not None:  # use_delta implies a previous run
                try:
                    changes = _delta_run(reader, run, previous)
                except DeltaExpired:
                    _set(run, pages=0, rows=0, bytes=0, message="The delta token expired: reading everything again…")
                    _full_run(reader, run, entity, page_size)
            else:
                _full_run(reader, run, entity, page_size)
        return _succeed(connection, run, previous, reader, user, changes)
    except (Stopped, syncstore.NotPublished):
        return _stopped(run)
    except SyncFailed as failed:
        return _fail(run, job_id, failed.diagnosis, user, kept=failed.kept)
    except outbound.OutboundError as err:
        return _fail(run, job_id, diagnoses.diagnose_transport_error(err, tokens.context_for(connection)), user)
    except SoftTimeLimitExceeded:
        return _fail(run, job_id, diagnoses.sync.too_long(run.pages, run.rows), user)
    except Exception:
        if not SyncRun.objects.filter(pk=run.pk).exists():
            # Deleted with its connection while it ran (its rows could not be written): nobody to tell.
            log.info("sync run %s stopped: it was deleted with its connection", run.pk)
            return {"ok": False, "run_id": str(run.pk), "deleted": True}
        log.exception("sync run %s crashed", run.pk)
        _fail(run, job_id, diagnoses.sync.crashed(), user)
        raise
    finally:
        if reader is not None:
            reader.close()
            reader.record_throttle()


def _previous_run(connection: Connection, run: SyncRun) -> SyncRun | None:
    """The last published run of the same stream: its snapshot is the one this run changes."""
    previous = (
        SyncRun.objects.filter(connection=connection, status=SyncRun.Status.SUCCEEDED, stream_id=run.stream_id)
        .exclude(pk=run.pk)
        .order_by("-seq")
        .first()
    )
    if previous is not None:
        SyncRun.objects.filter(pk=run.pk).update(previous=previous)
        run.previous = previous
    return previous


@dataclass
class _Reader:
    """GETs Graph pages for one run through the connection's Graph session (the token, one re-fetch
    on 401, waits on throttling); checks every link Graph hands over and prefetches the next page."""

    connection: Connection
    run: SyncRun
    session: graphsession.GraphSession
    sleep: Any = field(default=time.sleep, repr=False)
    prefetcher: _Prefetcher | None = field(default=None, repr=False)
    tally: throttling.Tally = field(default_factory=throttling.Tally, repr=False)
    budget_noted: float = field(default=0.0, repr=False)  # when a budget wait was last told on the page

    @property
    def reading(self) -> throttling.Reading:
        """This run as a reader of the tenant's throttle budget (its fair share, its tally)."""
        return throttling.Reading(str(self.run.pk), self.tally, self._budget_wait)

    @classmethod
    def open(cls, connection: Connection, run: SyncRun, job_id: str | None, user: Any) -> _Reader:
        # A patient session: it retries pages itself (with a time budget and a live message).
        try:
            session = graphsession.GraphSession.open(
                connection,
                reason=TokenFetch.Reason.FETCH,
                source=GraphRefusal.Source.SYNC,
                job_id=job_id,
                user=user,
                patience=float(settings.SYNC_PAGE_RETRY_SECONDS),
            )
        except graphsession.TokenUnavailable as unavailable:
            raise SyncFailed(unavailable.diagnosis or diagnoses.sync.crashed(), kept=True) from None
        return cls(connection, run, session)

    @property
    def job_id(self) -> str | None:
        return self.session.job_id

    @property
    def token(self) -> ConnectionToken:
        return self.session.token

    @property
    def policy(self) -> outbound.OutboundPolicy:
        return self.session.policy

    def get(
        self, url: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> graphclient.GraphResponse:
        """One page, retried (same URL) on 429/5xx and lost connections for at most
        SYNC_PAGE_RETRY_SECONDS; the last answer is returned for the caller to diagnose."""
        self._check_link(url)
        try:
            with throttling.reading(self.reading):
                return self.session.get(
                    url, params, headers, answered=lambda: self._prefetched(url, params), wait=self._retry_wait
                )
        except graphsession.TokenUnavailable as unavailable:
            raise SyncFailed(unavailable.diagnosis or diagnoses.sync.crashed(), kept=True) from None

    def _retry_wait(self, seconds: float, reason: str, attempt: int) -> None:
        budget = self.session.patience or 0.0
        self._wait(
            seconds,
            f"{reason}: trying page {self.run.pages + 1} again in {seconds:.0f} s "
            f"(try {attempt}; gives up {budget:.0f} s after the first try)…",
        )

    def _budget_wait(self, seconds: float) -> None:
        """Wait for the tenant's shared throttle budget, saying so on the page (at most once a second:
        the budget frees a little at a time, so its waits are often short and many)."""
        if time.monotonic() - self.budget_noted < 1:
            self.sleep(seconds)
            return
        self.budget_noted = time.monotonic()
        self._wait(
            seconds,
            f"Waiting for Graph's throttle budget (shared by every reader of this tenant): "
            f"page {self.run.pages + 1} in {max(seconds, 0.1):.1f} s…",
        )

    def throttle_fields(self) -> dict[str, Any]:
        """What the run spent of Graph's throttle budget and how long it waited, as run fields."""
        tally = self.tally
        return {
            "resource_units": tally.units,
            "limit_percentage": tally.highest_percentage,
            "budget_wait_seconds": round(tally.budget_wait, 1),
            "throttle_wait_seconds": round(tally.throttle_wait, 1),
        }

    def record_throttle(self) -> None:
        """Keep the throttle figures on a run that ended otherwise than published (failed, stopped)."""
        fields = self.throttle_fields()
        for name, value in fields.items():
            setattr(self.run, name, value)
        SyncRun.objects.filter(pk=self.run.pk).update(**fields)

    def _wait(self, seconds: float, message: str) -> None:
        """Sleep, telling the page why, and keep the run's heartbeat fresh so the reaper leaves it be."""
        _set(self.run, message=message[:300], heartbeat_at=timezone.now())
        if self.job_id:
            background.report_progress(self.job_id, self.run.percent or 0, message)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.sleep(min(left, float(settings.WORKER_HEARTBEAT_SECONDS)))
            _set(self.run, heartbeat_at=timezone.now())

    def _check_link(self, url: Any) -> None:
        """Our own check of every URL Graph handed us (nextLink, deltaLink) before any HTTP library
        parses it: text, https, an allowed host, and the connection's own origin (the token goes
        only there)."""
        try:
            if not isinstance(url, str):
                raise outbound.DisallowedURL("The URL is missing or not text.")
            try:
                foreign = _origin(url) != _origin(self.connection.service_url)
            except ValueError:
                raise outbound.DisallowedURL("The URL has an invalid port or host name.") from None
            if foreign:
                # A nextLink/deltaLink naming another host (even an allowed one) never gets the token.
                raise SyncFailed(
                    diagnoses.sync.foreign_link(
                        self.connection.entity,
                        urlsplit(url).netloc or "no host",
                        urlsplit(self.connection.service_url).netloc,
                    ),
                    kept=True,
                )
            outbound.check_url(url, self.policy)
        except outbound.DisallowedURL as refused:
            raise SyncFailed(
                diagnoses.sync.unreadable_link(
                    self.connection.entity, refused.message, urlsplit(self.connection.service_url).netloc
                ),
                kept=True,
            ) from None

    def prefetch(self, url: str, headers: dict[str, str]) -> None:
        """Start downloading the next page while this one is stored: only a link that passes our own
        check (same origin, allowed host); reading it then reports one that does not."""
        try:
            self._check_link(url)
        except SyncFailed:
            return
        if self.prefetcher is None:
            self.prefetcher = _Prefetcher()
        self.prefetcher.start(url, self.session.access_token, self.policy, headers, self.reading.nonblocking())

    def _prefetched(self, url: str, params: dict[str, str] | None) -> graphclient.GraphResponse | None:
        """The prefetched answer for this URL if there is one (its first try), else None (GET now)."""
        return self.prefetcher.take(url) if self.prefetcher is not None and not params else None

    def close(self) -> None:
        if self.prefetcher is not None:
            self.prefetcher.close()

    def refuse(self, response: graphclient.GraphResponse) -> SyncFailed:
        """The run's failure for a Graph error answer; 401/403 are kept as the connection's Graph refusal
        like Test connection's."""
        if response.status in (401, 403):
            return SyncFailed(self.session.refuse(response), kept=True)
        return SyncFailed(self.session.diagnose(response))


class _Prefetcher:
    """One thread that downloads the next page (HTTP and parsing only, never the database) while
    the run's thread stores the current one; what an answer means is decided by the run's thread,
    so throttling, a refused token and errors are handled exactly as for a page read directly."""

    def __init__(self) -> None:
        self.jobs: queue.Queue[tuple[str, Callable[[], graphclient.GraphResponse], Future] | None] = queue.Queue()
        self.pending: tuple[str, Future] | None = None
        self.thread = threading.Thread(target=self._loop, name="sync-prefetch", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        with outbound.keep_alive():
            while (job := self.jobs.get()) is not None:
                _, fetch, future = job
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fetch())
                    except BaseException as error:  # handed to the run's thread
                        future.set_exception(error)

    def start(
        self,
        url: str,
        access_token: str,
        policy: outbound.OutboundPolicy,
        headers: dict[str, str],
        reading: throttling.Reading | None = None,
    ) -> None:
        """Download ``url`` in the background; ``reading``: the run's draw on the throttle budget,
        non-blocking (a page that would wait for the budget is read in turn by the run's thread)."""
        future: Future = Future()
        reading = reading or throttling.Reading(blocking=False)
        fetch = functools.partial(reading.run, graphclient.get, url, access_token, policy=policy, headers=headers)
        self.jobs.put((url, fetch, future))
        self.pending = (url, future)

    def take(self, url: str) -> graphclient.GraphResponse | None:
        """The answer for ``url`` if it was prefetched (waiting for it), once; else None."""
        pending, self.pending = self.pending, None
        if pending is None or pending[0] != url:
            if pending is not None:
                pending[1].cancel()
            return None
        try:
            return pending[1].result()
        except throttling.BudgetBusy:
            return None  # the budget asked for a wait: the run's thread reads it, telling its page

    def close(self) -> None:
        if self.pending is not None:
            self.pending[1].cancel()
        self.jobs.put(None)


def _full_run(reader: _Reader, run: SyncRun, entity: catalogue.Entity | None, page_size: int | None) -> None:
    _set(run, mode=SyncRun.Mode.FULL, message="Reading the first page…")
    base = graphclient.collection_url(reader.connection.service_url, run.entity)
    largest = entity.max_top if entity else None
    top = page_size or (min(largest, settings.SYNC_PAGE_SIZE) if largest and settings.SYNC_PAGE_SIZE else largest)
    params = graphclient.query_params(run.odata_select, run.odata_filter, top=top)
    params.update(dict(entity.params) if entity else {})
    headers: dict[str, str] = {}
    if entity is not None and entity.path in COUNTABLE:
        params["$count"] = "true"
        headers["ConsistencyLevel"] = "eventual"
    if entity is not None and entity.delta and not run.odata_filter:
        run.delta_link = _latest_delta_link(reader, base, run.odata_select)
    stager = syncstore.Stager(run, _key_name(run))
    for body in _pages(reader, run, base, params, headers):
        stager.add(_items(body))
        run.rows = stager.rows


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def _latest_delta_link(reader: _Reader, base: str, select: str) -> str:
    """A deltaLink for "now", asked *before* the full read so nothing changed during it is missed."""
    params = {"$deltatoken": "latest", **graphclient.query_params(select)}
    response = reader.get(f"{base}/delta", params=params)
    if not response.ok:
        raise reader.refuse(response)
    link = response.body.get("@odata.deltaLink") if isinstance(response.body, dict) else None
    return link if isinstance(link, str) else ""


def _pages(
    reader: _Reader, run: SyncRun, url: str, params: dict[str, str] | None, headers: dict[str, str]
) -> Iterator[dict[str, Any]]:
    """Each page's body, following ``@odata.nextLink`` as-is; counts pages and bytes on the run."""
    next_url: str | None = url
    reported = 0.0
    while next_url:
        _check_stopped(run)
        response = reader.get(next_url, params=params, headers=headers)
        if not response.ok or not isinstance(response.body, dict) or "_text" in response.body:  # _text: not JSON
            if run.mode == SyncRun.Mode.DELTA and (
                response.status == 410 or response.error_code in ("syncStateNotFound", "resyncRequired")
            ):
                raise DeltaExpired()
            raise reader.refuse(response)
        body = response.body
        if run.pages == 0 and isinstance(body.get("@odata.count"), int):
            _set(run, total=body["@odata.count"])
        run.pages += 1
        run.bytes += response.size
        next_url, params = body.get("@odata.nextLink"), None  # the link carries every query option
        if next_url:
            reader.prefetch(next_url, headers)
        yield body
        if isinstance(body.get("@odata.deltaLink"), str):  # checked like a nextLink when it is followed
            run.delta_link = body["@odata.deltaLink"]
        if not next_url or time.monotonic() - reported >= PROGRESS_EVERY:
            _progress(reader.job_id, run)
            reported = time.monotonic()


def _check_stopped(run: SyncRun) -> None:
    """Between pages: stop when someone pressed Cancel, the run was interrupted, or it is gone."""
    state = SyncRun.objects.filter(pk=run.pk).values_list("status", "cancel_requested").first()
    if state is None or state[0] != SyncRun.Status.RUNNING or state[1]:
        raise Stopped()


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    value = body.get("value")
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return [body] if "@odata.context" in body and "value" not in body else []  # a single object


def as_text(value: Any) -> str:
    """A value as text for a table cell or a CSV field (lists joined, objects as JSON)."""
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _key_name(run: SyncRun) -> str:
    entity = catalogue.lookup(run.entity)
    return entity.key if entity else "id"


def _delta_run(reader: _Reader, run: SyncRun, previous: SyncRun) -> dict[str, dict[str, Any] | None]:
    """Follow the previous run's deltaLink; the changes it lists, merged per key (None: removed)."""
    _set(run, mode=SyncRun.Mode.DELTA, message="Reading the changes since the last sync…")
    key_name = _key_name(run)
    changes: dict[str, dict[str, Any] | None] = {}
    headers = {"Prefer": "odata.maxpagesize=999"}
    for body in _pages(reader, run, previous.delta_link, None, headers):
        for item in _items(body):
            key = str(item.get(key_name) or "")
            if not key:
                continue
            if "@removed" in item:
                changes[key] = None
            else:
                changes[key] = {**(changes.get(key) or {}), **clean(item)}
    _set(run, message=f"Applying {len(changes)} changes to the {previous.rows} records of the last sync…")
    return changes


def _progress(job_id: str | None, run: SyncRun) -> None:
    pages = f"{run.pages} page{'s' if run.pages != 1 else ''}"
    total = f" of {run.total}" if run.total else ""
    run.message = (
        f"{pages} of changes read…" if run.mode == SyncRun.Mode.DELTA else f"{pages}, {run.rows} rows{total} so far…"
    )
    _set(run, pages=run.pages, rows=run.rows, bytes=run.bytes, heartbeat_at=timezone.now(), message=run.message)
    reset_queries()  # with DEBUG on, Django keeps every query's text (each page's INSERT) until a request ends
    if job_id:
        background.report_progress(job_id, run.percent or 0, run.message)


def _set(run: SyncRun, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(run, name, value)
    SyncRun.objects.filter(pk=run.pk).update(**fields)


# -- finishing ------------------------------------------------------------------------------------


def _succeed(
    connection: Connection,
    run: SyncRun,
    previous: SyncRun | None,
    reader: _Reader,
    user: Any,
    changes: dict[str, dict[str, Any] | None] | None,
) -> dict[str, Any]:
    """Publish the run (one transaction) and say so; a cancelled run raises ``NotPublished``."""
    pages = f"{run.pages} page{'s' if run.pages != 1 else ''}"
    fields = {
        "pages": run.pages,
        "bytes": run.bytes,
        "delta_link": run.delta_link,
        "mode": run.mode,
        **reader.throttle_fields(),  # published with the run, so its page shows them from the start
    }
    if changes is not None and previous is not None:
        published = syncstore.publish_delta(run, changes, previous.rows, **fields)
    else:
        published = syncstore.publish_full(run, previous.rows if previous is not None else None, **fields)
    rows = published.rows
    counts: dict[str, int | None] = {"added": None, "changed": None, "removed": None}
    if previous is not None:
        counts = {"added": published.added, "changed": published.changed, "removed": published.removed}
    _set(run, message=f"Read {rows} rows in {pages}.")
    throttle.note_tenant_size(run, reader.session.access_token)
    reader.session.succeeded()
    compared = f"; +{counts['added']} ~{counts['changed']} −{counts['removed']}" if previous is not None else ""
    audit.record(
        user,
        connection,
        audit.Action.SYNCED,
        detail=f"{run.entity}: succeeded, {rows} rows ({run.get_mode_display().lower()}){compared}{_by(run)}",
    )
    alerts.observe(connection, alerts.SYNC, ok=True)
    return {"ok": True, "run_id": str(run.pk), "rows": rows, "pages": run.pages, "mode": run.mode, **counts}


def _fail(
    run: SyncRun, job_id: str | uuid.UUID | None, diagnosis: diagnoses.Diagnosis, user: Any, kept: bool = False
) -> dict[str, Any]:
    """Mark the run (and its job) failed with ``diagnosis``; a failed run keeps no records."""
    error = {**diagnosis.to_dict(), "kept": kept}
    result = {"ok": False, "run_id": str(run.pk), "rows": run.rows, "pages": run.pages, "diagnosis": error}
    # The worker that ran it has the last word: failed, whatever the run's status says by now.
    syncstore.end_run(
        run, SyncRun.Status.FAILED, diagnosis.title, error=error, job_id=job_id, job_result=result, only_active=False
    )
    connection = run.connection
    audit.record(
        user,
        connection,
        audit.Action.SYNCED,
        detail=f"{run.entity}: failed after {run.pages} pages{_by(run)}: {diagnosis.title}",
    )
    alerts.observe(connection, alerts.SYNC, ok=False, detail=diagnosis.title)
    return result


def _by(run: SyncRun) -> str:
    return ", by schedule" if run.trigger == SyncRun.Trigger.SCHEDULE else ""


def _stopped(run: SyncRun) -> dict[str, Any]:
    """The run was cancelled or interrupted under the worker (or deleted): drop what it staged, and
    finish a cancel that was requested while it ran."""
    if not SyncRun.objects.filter(pk=run.pk).exists():
        log.info("sync run %s stopped: it was deleted with its connection", run.pk)
        return {"ok": False, "run_id": str(run.pk), "deleted": True}
    syncstore.discard(run)
    run.refresh_from_db()
    if run.cancel_requested and run.status in SyncRun.ACTIVE:
        synccontrol.finish_cancel(run)
        run.refresh_from_db()
    return {"ok": False, "run_id": str(run.pk), "stopped": True, "status": run.status}


# -- comparing ------------------------------------------------------------------------------------


def change_querysets(run: SyncRun) -> dict[str, models.QuerySet[SyncVersion]]:
    """Added and changed versions of ``run``, and the removed ones, by the run's sequence number."""
    return syncstore.change_querysets(run)


@dataclass(frozen=True)
class Change:
    kind: str  # added, changed, removed
    key: str
    data: dict[str, Any]  # the record now (or, when removed, as it was)
    fields: tuple[tuple[str, Any, Any], ...] = ()  # changed: (field, before, after)

    @property
    def label(self) -> str:
        for name in ("displayName", "userPrincipalName", "name", "mail"):
            if self.data.get(name):
                return str(self.data[name])
        return self.key


def changes(run: SyncRun, kind: str, offset: int = 0, limit: int = 50) -> list[Change]:
    """One page of ``kind`` changes of ``run`` against the snapshot before it (two queries)."""
    if not run.compared:
        return []
    rows = list(change_querysets(run)[kind].order_by("key")[offset : offset + limit])
    if kind != "changed":
        return [Change(kind, r.key, r.data) for r in rows]
    before = syncstore.versions_before(run, [r.key for r in rows])
    return [Change(kind, r.key, r.data, changed_fields(before.get(r.key, {}), r.data)) for r in rows]


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[tuple[str, Any, Any], ...]:
    names = [n for n in after if before.get(n) != after.get(n)] + [n for n in before if n not in after]
    return tuple((n, before.get(n), after.get(n)) for n in names)
