"""Reading a run's Graph pages: every GET, the prefetched next page included, goes through the
connection's Graph session, so each answer gets the same token, 401 re-fetch and throttle waits.

A ``PageReader`` belongs to one run and one thread (the run's worker). It checks every link Graph
hands over before any HTTP library parses it, and downloads the next page in a ``Prefetcher``
thread while the current one is stored; what an answer means is always decided by the run's
thread. Several readers can read one run at once (each its own session and prefetcher), e.g. one
per ``$filter`` range, staging into the same run through a stager each.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from connections import tokens
from connections.models import Connection, ConnectionToken, GraphRefusal, SyncRun, TokenFetch
from connections.syncs import lifecycle
from microsoft import diagnoses, graphclient, outbound, throttling


class Stopped(Exception):
    """The run was cancelled, interrupted or deleted while it read: stop at this page."""


class SyncFailed(Exception):
    """The run cannot go on; ``diagnosis`` says why in the user's words."""

    def __init__(self, diagnosis: diagnoses.Diagnosis, kept: bool = False) -> None:
        super().__init__(diagnosis.title)
        self.diagnosis = diagnosis
        self.kept = kept  # also kept elsewhere (the token's error, the Graph refusal): shown under Diagnostics


@dataclass
class PageReader:
    """GETs Graph pages for one run through the connection's Graph session (the token, one re-fetch
    on 401, waits on throttling); checks every link Graph hands over and prefetches the next page."""

    connection: Connection
    run: SyncRun
    session: tokens.GraphSession
    sleep: Any = field(default=time.sleep, repr=False)
    prefetcher: Prefetcher | None = field(default=None, repr=False)
    tally: throttling.Tally = field(default_factory=throttling.Tally, repr=False)
    budget_noted: float = field(default=0.0, repr=False)  # when a budget wait was last told on the page

    @property
    def reading(self) -> throttling.Reading:
        """This run as a reader of the tenant's throttle budget (its fair share, its tally)."""
        return throttling.Reading(str(self.run.pk), self.tally, self._budget_wait)

    @classmethod
    def open(cls, connection: Connection, run: SyncRun, job_id: str | None, user: Any) -> PageReader:
        # A patient session: it retries pages itself (with a time budget and a live message).
        try:
            session = tokens.GraphSession.open(
                connection,
                reason=TokenFetch.Reason.FETCH,
                source=GraphRefusal.Source.SYNC,
                job_id=job_id,
                user=user,
                patience=float(settings.SYNC_PAGE_RETRY_SECONDS),
            )
        except tokens.TokenUnavailable as unavailable:
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
        except tokens.TokenUnavailable as unavailable:
            raise SyncFailed(unavailable.diagnosis or diagnoses.sync.crashed(), kept=True) from None

    def fetch(
        self,
        url: str,
        params: dict[str, str] | None,
        headers: dict[str, str],
        *,
        wait: Callable[[float], None],
        sleep: Callable[[float], None],
    ) -> graphclient.GraphResponse:
        """One page for another thread of the run (a partition): ``get``'s checks, retries and
        budget, but nothing written to the database: ``wait`` sleeps its retry waits and ``sleep``
        its budget waits, and the run's thread tells the page."""
        self._check_link(url)
        reading = throttling.Reading(str(self.run.pk), self.tally, sleep)
        try:
            with throttling.reading(reading):
                return self.session.get(url, params, headers, wait=lambda seconds, reason, attempt: wait(seconds))
        except tokens.TokenUnavailable as unavailable:
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
        lifecycle.update(self.run, **self.throttle_fields())

    def _wait(self, seconds: float, message: str) -> None:
        """Sleep, telling the page why, and keep the run's heartbeat fresh so the reaper leaves it be."""
        lifecycle.heartbeat(self.run, self.job_id, message)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.sleep(min(left, float(settings.WORKER_HEARTBEAT_SECONDS)))
            lifecycle.heartbeat(self.run, None)

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
            self.prefetcher = Prefetcher()
        session, reading = self.session, self.reading.nonblocking()
        self.prefetcher.start(url, lambda: reading.run(session.download, url, headers=headers))

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


class Prefetcher:
    """One thread that downloads the next page (HTTP and parsing only, never the database) while
    the run's thread stores the current one. The download is the session's own single GET; the
    answer is handed to the session's ``get`` as that page's first try, so throttling, a refused
    token and errors are handled exactly as for a page read directly."""

    def __init__(self) -> None:
        self.jobs: queue.Queue[tuple[Callable[[], graphclient.GraphResponse], Future] | None] = queue.Queue()
        self.pending: tuple[str, Future] | None = None
        self.thread = threading.Thread(target=self._loop, name="sync-prefetch", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        with outbound.keep_alive():
            while (job := self.jobs.get()) is not None:
                download, future = job
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(download())
                    except BaseException as error:  # handed to the run's thread
                        future.set_exception(error)

    def start(self, url: str, download: Callable[[], graphclient.GraphResponse]) -> None:
        future: Future = Future()
        self.jobs.put((download, future))
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


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def page_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The items of a page (a single object answered alone counts as one)."""
    value = body.get("value")
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return [body] if "@odata.context" in body and "value" not in body else []
