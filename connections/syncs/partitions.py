"""Partitioned full reads: one collection read as many ``$filter`` ranges at once.

Against Graph a full read is bound by the time each page takes, one after another; ranges of a
property that supports ``ge``/``le`` (docs/microsoft-wire-facts.md, "Range filters for partitioned
reads") can be read side by side. The run's thread plans the ranges, then partition threads (one
worker, ``SYNC_PARTITIONS`` of them) each follow one range's ``@odata.nextLink`` chain through the
run's Graph session (its token, its retries, the tenant's shared throttle budget) and hand pages to
the run's thread through a bounded queue; the run's thread alone touches the database (it stages
every page into the one run, writes progress and checks for a cancel), so SQLite's one writer is
enough and memory stays at a few pages whatever the directory's size.

**Every item once.** Graph's collation is not documented, so boundaries are strings of lowercase
ASCII letters and digits (and, after the first character, ``.``, without which names such as
``first.last`` could not be split), which sort the same by code point and case-insensitively.
Range *i* is ``ge b_i and le b_(i+1)``, so every name falls in a range whatever the collation; an
item equal to ``b_(i+1)`` comes in range *i* and again in *i + 1*, and range *i* drops it. The run
then checks its rows against Graph's ``$count`` and that no key came twice; if either differs (a
collation that equates more names than ours, a directory that changed, names without the
property) it says so and reads everything again one page after another.

**Balanced ranges.** Ranges by first character are very uneven, so the plan first counts ranges
(``$count`` with the names of the first ``SAMPLE`` items: one resource unit and a short answer
each) and splits the big ones at prefixes of those names (a sample of the range), else on a longer
prefix of the range's own boundaries, down to pieces of about a third of a thread's share (at
most a page); a planner thread hands each piece to the partition threads as soon as it is
counted, so reading starts while the big ranges are still being split, and a thread takes the
biggest piece waiting, so the last ones to be read are small and the threads finish close
together.

**Backing off.** When Graph reports ``x-ms-throttle-limit-percentage`` beyond what the tenant's
shared budget explains by our own draws, the threads that may read at once are cut in proportion,
and grow back one every few seconds without such a report.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection as db
from django.db import reset_queries
from django.db.models import Count

from connections.models import SyncRun, SyncStage
from connections.syncs import lifecycle, store
from connections.syncs.reader import PageReader, Stopped, page_items
from microsoft import graphclient, outbound, throttling

log = logging.getLogger(__name__)

# The property each collection is partitioned on: one whose resource page lists ``ge`` and ``le``
# (docs/microsoft-wire-facts.md, "Range filters for partitioned reads").
RANGE_PROPERTY = {
    "users": "userPrincipalName",
    "groups": "displayName",
    "devices": "displayName",
    "applications": "displayName",
    "servicePrincipals": "displayName",
}
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"  # same order by code point and case-insensitively
INNER = "." + ALPHABET  # after the first character: "." sorts before the digits, and splits "first.last"
MAX_PREFIX = 32  # longest boundary the plan splits down to
PIECES_PER_THREAD = 3  # a piece is about a third of one thread's share: the last ones finish close together
SAMPLE = 20  # names a count asks for with it, to split its range at (the same resource unit)
SPLIT_WIDER = 2  # a big range splits into twice the pieces its count asks for: names are uneven, so
# fewer of the smaller ones need a further round of counts (neighbours that fit are joined again)
MIN_PIECE = 50  # smaller pieces cost more in counting and round trips than they save
PAGES_WAITING = 8  # pages read but not staged yet: when staging is the slower part, more only cost memory
RECOVER_SECONDS = 3.0  # one more thread may read after this long without a limit report
LIMIT_TARGET = 0.8  # Graph reports the limit percentage from 0.8


Work = queue.PriorityQueue[tuple[int, int, "Range"]]  # (-count, order planned, piece)


def range_property(run: SyncRun, path: str) -> str | None:
    """The property to partition ``run``'s read on, or None (read it serially): a collection with a
    range property, no ``$filter`` of the profile's own, and more than one partition allowed."""
    if int(settings.SYNC_PARTITIONS) < 2 or run.odata_filter:
        return None
    return RANGE_PROPERTY.get(path)


@dataclass(frozen=True)
class Range:
    """``lo`` ≤ name ≤ ``hi`` (None: open); names equal to ``hi`` belong to the next range."""

    lo: str | None
    hi: str | None
    count: int = 0

    def filter(self, prop: str) -> str:
        """The range as a ``$filter`` ("" for the whole collection)."""
        parts = ([f"{prop} ge '{self.lo}'"] if self.lo is not None else []) + (
            [f"{prop} le '{self.hi}'"] if self.hi is not None else []
        )
        return " and ".join(parts)

    def inner(self) -> list[str]:
        """The shortest boundaries strictly inside the range, in order: a prefix of ``lo`` or of
        ``hi`` and one character more (``ana7``–``anab``: ``ana8``, ``ana9``, ``anaa``;
        ``ana``–``ana0``: ``ana.``; ``charlos``–``charlp``: ``charlot`` … ``charloz``); none for
        an open start."""
        lo, hi = self.lo, self.hi
        if lo is None:
            return []
        for length in range(len(os.path.commonprefix([lo, hi or ""])), MAX_PREFIX):
            stems = {lo[:length]} | ({hi[:length]} if hi is not None and len(hi) >= length else set())
            found = sorted(
                {stem + c for stem in stems for c in INNER if lo < stem + c and (hi is None or stem + c < hi)}
            )
            if found:
                return found
        return []

    def split(self, pieces: int, names: list[str] | None = None) -> list[Range]:
        """About ``pieces`` ranges (at least two; [] when no boundary lies inside): at the quantiles
        of ``names`` (a sample of the range's folded names) where that finds boundaries, else on
        evenly spaced ``inner`` ones."""
        inner = self.at_quantiles(sorted(set(names or ())), pieces)
        if not inner:
            inner = self.inner()
            step = max(1, math.ceil((len(inner) + 1) / pieces))
            inner = inner[step - 1 :: step][: pieces - 1]
        if not inner:
            return []
        bounds: list[str | None] = [self.lo, *inner, self.hi]
        return [Range(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]

    def at_quantiles(self, names: list[str], pieces: int) -> list[str]:
        """Boundaries between the sorted sample ``names`` at about ``pieces`` quantiles: each the
        shortest prefix of a name that sorts above the name before it, kept when it is made of
        boundary characters and lies strictly inside the range."""
        lo, hi = self.lo, self.hi
        if lo is None:
            return []
        names = [n for n in names if lo <= n and (hi is None or n < hi)]
        found: list[str] = []
        cuts = min(pieces, len(names))
        for k in range(1, cuts):
            at = round(k * len(names) / cuts)  # 1 … len(names) - 1
            below, name = names[at - 1], names[at]
            bound = name[: len(os.path.commonprefix([below, name])) + 1]
            allowed = bound[:1] in ALPHABET and all(c in INNER for c in bound) and len(bound) <= MAX_PREFIX
            if allowed and lo < bound and (hi is None or bound < hi) and (not found or found[-1] < bound):
                found.append(bound)
        return found


def first_ranges() -> list[Range]:
    bounds: list[str | None] = [None, *ALPHABET, None]
    return [Range(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]


class Gate:
    """How many partition threads may read at once: cut when Graph says the budget is near its
    limit, grown back one at a time while it says nothing."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.allowed = most
        self.busy = 0
        self.reported = self.grown = 0.0
        self.condition = threading.Condition()

    def enter(self, stop: threading.Event) -> bool:
        with self.condition:
            while not stop.is_set():
                now = time.monotonic()
                if self.allowed < self.most and now - max(self.reported, self.grown) > RECOVER_SECONDS:
                    self.allowed, self.grown = self.allowed + 1, now
                if self.busy < self.allowed:
                    self.busy += 1
                    return True
                self.condition.wait(0.2)
            return False

    def leave(self, percentage: float | None) -> None:
        with self.condition:
            self.busy -= 1
            if percentage is not None and percentage > LIMIT_TARGET:
                now = time.monotonic()
                if now - self.reported > RECOVER_SECONDS:  # later reports in a burst describe the same use
                    self.allowed = max(1, math.floor(self.allowed * LIMIT_TARGET / percentage))
                    self.reported = now
            self.condition.notify_all()


@dataclass
class PartitionedRead:
    """One partitioned full read of ``run`` (see the module docstring)."""

    reader: PageReader
    run: SyncRun
    base: str
    params: dict[str, str]
    headers: dict[str, str]
    prop: str
    key_name: str
    threads: int = field(default_factory=lambda: int(settings.SYNC_PARTITIONS))
    stop: threading.Event = field(default_factory=threading.Event)
    note: str = ""  # the latest wait a partition thread is in, for the page
    ranges: int = 0  # ranges planned so far
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.gate = Gate(self.threads)
        select = self.params.get("$select", "")
        names = {n.strip().lower() for n in select.split(",") if n.strip()}
        self.strip = bool(select) and self.prop.lower() not in names  # asked for only to find boundary names
        if self.strip:
            self.params = {**self.params, "$select": f"{select},{self.prop}"}

    # -- fetching (partition threads: no database) -----------------------------------------------

    def _sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def _retry_wait(self, seconds: float) -> None:
        self.note = f"a partition waits {seconds:.0f} s for Graph (throttled or unavailable)"
        self._sleep(seconds)
        self.note = ""

    def fetch(self, url: str, params: dict[str, str] | None, gated: bool = True) -> graphclient.GraphResponse:
        """One GET of a partition thread; ``gated``: one of the reads the gate holds back (the plan's
        counts are not: they are short, and reading waits for them)."""
        if not gated:
            return self.reader.fetch(url, params, self.headers, wait=self._retry_wait, sleep=self._sleep)
        if not self.gate.enter(self.stop):
            raise Stopped()
        percentage: float | None = None
        explained = self.reader.tally.explained
        try:
            response = self.reader.fetch(url, params, self.headers, wait=self._retry_wait, sleep=self._sleep)
            if self.reader.tally.explained == explained:
                # A report the shared budget explained by our own draws needs no fewer threads: the
                # budget already keeps every reader of the tenant under Graph's limit.
                percentage = throttling.Answer.of(response.headers).limit_percentage
            return response
        finally:
            self.gate.leave(percentage)

    # -- planning ---------------------------------------------------------------------------------

    def count(self, r: Range | None) -> int | None:
        return self.sample(r)[0]

    def sample(self, r: Range | None) -> tuple[int | None, list[str]]:
        """The range's ``$count`` and the (folded) names of the first few items Graph returns with it,
        a sample the plan splits the range at."""
        params = {"$count": "true", "$top": str(SAMPLE), "$select": self.prop}
        if r is not None:
            params["$filter"] = r.filter(self.prop)
        response = self.fetch(self.base, params, gated=False)
        if not response.ok or not isinstance(response.body, dict):
            raise self.reader.refuse(response) if r is None else Refused(response)
        value = response.body.get("@odata.count")
        names = [v.lower() for i in page_items(response.body) if isinstance(v := i.get(self.prop), str)]
        return (value if isinstance(value, int) else None), names

    def plan(self, total: int, work: Work, planned: threading.Event) -> None:
        """Count ranges and put those of at most a piece (about ``total / (threads ×
        PIECES_PER_THREAD)`` items, and at most a page, so the threads finish close together) into
        ``work`` as soon as they are counted, so reading starts while big ranges are still split;
        ``planned`` is set when every range is in ``work``. Runs in a thread of its own."""
        top = int(self.params.get("$top") or 999)
        target = max(MIN_PIECE, min(top, total // (self.threads * PIECES_PER_THREAD)))
        ranges = first_ranges()
        with Counting(self.sample, self.threads, self.stop) as pool:
            while ranges and not self.stop.is_set():
                split: list[Range] = []
                piece: Range | None = None  # neighbours joined while they fit in a piece (fewer requests)
                for r, (n, names) in zip(ranges, pool.map(ranges), strict=True):
                    if n is None:
                        raise Uncountable()
                    smaller = r.split(SPLIT_WIDER * math.ceil(n / target), names) if n > target else []
                    if smaller and piece is not None and piece.hi == r.lo and piece.count <= target // 10:
                        # a (nearly) empty neighbour costs a request of its own: the first smaller
                        # range takes it in, and is counted with it
                        smaller[0], piece = Range(piece.lo, smaller[0].hi), None
                    if smaller:
                        split += smaller
                    elif piece is not None and piece.hi == r.lo and piece.count + n <= target:
                        piece = Range(piece.lo, r.hi, piece.count + n)
                        continue
                    else:
                        self._put(work, piece)
                        piece = Range(r.lo, r.hi, n)
                        continue
                    self._put(work, piece)
                    piece = None
                self._put(work, piece)
                ranges = split
        planned.set()

    def _put(self, work: Work, piece: Range | None) -> None:
        if piece is not None:
            work.put((-piece.count, next(self._order), piece))  # the biggest first
            self.ranges += 1

    # -- reading ----------------------------------------------------------------------------------

    def read(self) -> bool:
        """Read every range into the run's stage. True: the rows match Graph's count, one per key;
        False: read serially instead (a small collection; or rows that did not match, whose stage is
        dropped and the page says so)."""
        run = self.run
        lifecycle.update(run, message="Counting what to read…")
        started = time.monotonic()
        try:
            total = self.count(None)
        except Refused:
            return False
        answered_in = time.monotonic() - started
        if total is None or total < int(settings.SYNC_PARTITIONS_FROM):
            return False  # small (or uncounted): one chain is as fast
        if answered_in * 1000 < float(settings.SYNC_PARTITIONS_SLOWER_THAN_MS):
            # Graph answered its count at once: its pages come fast too, and one chain is then
            # quicker than partitions, which would only add their plan's counts and thread turns.
            return False
        lifecycle.update(run, total=total, message=f"Planning {self.threads} partitions for {total} rows…")
        stager = store.Stager(run, self.key_name)
        pages: queue.Queue[tuple[str, Any, Any]] = queue.Queue(maxsize=PAGES_WAITING)
        work: Work = queue.PriorityQueue()
        planned = threading.Event()
        threads = [threading.Thread(target=self._planner, args=(total, work, planned, pages), name="sync-planner")]
        threads += [
            threading.Thread(target=self._partition, args=(work, planned, pages), name=f"sync-partition-{i}")
            for i in range(self.threads)
        ]
        for thread in threads:
            thread.daemon = True
            thread.start()
        try:
            self._stage(pages, stager, len(threads))
        except (Uncountable, Refused):
            return self._mismatch("Graph could not count a range")
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=5)
        staged, keys = _staged(run)
        if staged != total or keys != staged:
            return self._mismatch(
                f"{staged} rows read in {self.ranges} partitions"
                + (f" ({staged - keys} came twice)" if keys != staged else "")
                + f", but Graph counts {total}"
            )
        return True

    def _planner(
        self, total: int, work: Work, planned: threading.Event, pages: queue.Queue[tuple[str, Any, Any]]
    ) -> None:
        self._thread(lambda: self.plan(total, work, planned), pages)

    def _partition(self, work: Work, planned: threading.Event, pages: queue.Queue[tuple[str, Any, Any]]) -> None:
        """A partition thread: read ranges from ``work`` until the plan is done and none is left,
        handing each page over."""

        def ranges() -> None:
            while not self.stop.is_set():
                try:
                    _, _, r = work.get(timeout=0.1)
                except queue.Empty:
                    if planned.is_set() and work.empty():
                        return
                    continue
                url: str | None = self.base
                where = r.filter(self.prop)  # "": every name fitted in one piece
                params: dict[str, str] | None = {**self.params, **({"$filter": where} if where else {})}
                while url and not self.stop.is_set():
                    response = self.fetch(url, params)
                    self._hand(pages, ("page", r, response))
                    if not response.ok or not isinstance(response.body, dict) or "_text" in response.body:
                        return
                    url, params = response.body.get("@odata.nextLink"), None
                self._hand(pages, ("range", r, None))

        self._thread(ranges, pages)

    def _thread(self, body: Callable[[], None], pages: queue.Queue[tuple[str, Any, Any]]) -> None:
        """Run a planner or partition thread's ``body``, handing its error (or its end) to the run's thread."""
        try:
            with outbound.keep_alive():
                body()
        except Stopped:
            pass
        except BaseException as error:  # handed to the run's thread, which fails the run with it
            self._hand(pages, ("error", None, error))
        finally:
            self._hand(pages, ("ended", None, None))
            db.close()  # a token re-fetch may have opened this thread's database connection

    def _hand(self, pages: queue.Queue[tuple[str, Any, Any]], entry: tuple[str, Any, Any]) -> None:
        while True:
            try:
                pages.put(entry, timeout=0.2)
                return
            except queue.Full:
                if self.stop.is_set():  # the run's thread no longer reads them
                    return

    def _stage(self, pages: queue.Queue[tuple[str, Any, Any]], stager: store.Stager, threads: int) -> None:
        """The run's thread: stage pages as they come, keep the page told, stop on a cancel."""
        run = self.run
        done = ended = 0  # ranges read, threads ended
        reported = 0.0
        while ended < threads:
            try:
                kind, r, payload = pages.get(timeout=1.0)
            except queue.Empty:
                kind, r, payload = "", None, None
            if kind == "error":
                raise payload
            if kind == "ended":
                ended += 1
            elif kind == "range":
                done += 1
            elif kind == "page":
                response: graphclient.GraphResponse = payload
                if not response.ok or not isinstance(response.body, dict) or "_text" in response.body:
                    raise self.reader.refuse(response)
                stager.add(self._items(response.body, r.hi))
                run.rows, run.pages, run.bytes = stager.rows, run.pages + 1, run.bytes + response.size
            if kind and lifecycle.should_stop(run):
                raise Stopped()
            if time.monotonic() - reported >= 1.0 or ended == threads:
                reported = time.monotonic()
                wait = f" ({self.note})" if self.note else ""
                lifecycle.heartbeat(
                    run,
                    self.reader.job_id,
                    f"{done} of {self.ranges} partitions read, {min(self.gate.busy, self.threads)} reading{wait}: "
                    f"{run.rows} rows of {run.total} so far…",
                    pages=run.pages,
                    rows=run.rows,
                    bytes=run.bytes,
                )
                reset_queries()

    def _items(self, body: dict[str, Any], hi: str | None) -> list[dict[str, Any]]:
        """A page's items without those equal to the range's upper boundary (the next range has them)."""
        items = page_items(body)
        if hi is not None:
            items = [i for i in items if not (isinstance(v := i.get(self.prop), str) and v.lower() == hi)]
        if self.strip:
            items = [{k: v for k, v in i.items() if k != self.prop} for i in items]
        return items

    def _mismatch(self, why: str) -> bool:
        log.info("sync run %s reads serially: %s", self.run.pk, why)
        store.discard(self.run)
        lifecycle.update(
            self.run,
            pages=0,
            rows=0,
            bytes=0,
            message=f"{why}: reading everything again one page after another…",
        )
        return False


class Counting:
    """The plan's counts on ``threads`` threads that each keep their connection to Graph for the
    whole plan (``outbound.keep_alive``): an executor's threads would open one, and shake hands
    over TLS, for every count. ``map`` yields the answers in order, each as soon as it is in."""

    def __init__(
        self, sample: Callable[[Range], tuple[int | None, list[str]]], threads: int, stop: threading.Event
    ) -> None:
        self.sample, self.stop = sample, stop
        self.todo: queue.Queue[tuple[int, Range] | None] = queue.Queue()
        self.done: dict[int, tuple[bool, Any]] = {}
        self.arrived = threading.Condition()
        self.order = itertools.count()
        self.threads = [
            threading.Thread(target=self._count, name=f"sync-plan-{i}", daemon=True) for i in range(threads)
        ]

    def __enter__(self) -> Counting:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        while True:  # what is left unasked stays so
            try:
                self.todo.get_nowait()
            except queue.Empty:
                break
        for _ in self.threads:
            self.todo.put(None)
        for thread in self.threads:
            thread.join(timeout=5)

    def _count(self) -> None:
        try:
            with outbound.keep_alive():
                while (job := self.todo.get()) is not None:
                    key, r = job
                    try:
                        answer: tuple[bool, Any] = (True, self.sample(r))
                    except BaseException as error:  # handed to ``map``'s caller
                        answer = (False, error)
                    with self.arrived:
                        self.done[key] = answer
                        self.arrived.notify_all()
        finally:
            db.close()  # a token re-fetch may have opened this thread's database connection

    def map(self, ranges: list[Range]) -> Iterator[tuple[int | None, list[str]]]:
        keys = [next(self.order) for _ in ranges]
        for key, r in zip(keys, ranges, strict=True):
            self.todo.put((key, r))
        for key in keys:
            with self.arrived:
                while key not in self.done:
                    if self.stop.is_set():
                        raise Stopped()
                    self.arrived.wait(0.2)
                ok, value = self.done.pop(key)
            if not ok:
                raise value
            yield value


class Uncountable(Exception):
    """Graph gave no ``@odata.count`` for a range."""


class Refused(Exception):
    """Graph refused to count a range (a property it does not filter on this way)."""

    def __init__(self, response: graphclient.GraphResponse) -> None:
        super().__init__(response.status)
        self.response = response


def _staged(run: SyncRun) -> tuple[int, int]:
    """Rows staged for ``run`` and how many distinct keys they hold (counted by the database: no
    all-ids set in memory)."""
    counted = SyncStage.objects.filter(run=run).aggregate(rows=Count("id"), keys=Count("key", distinct=True))
    return int(counted["rows"]), int(counted["keys"])


def read(
    reader: PageReader,
    run: SyncRun,
    base: str,
    params: dict[str, str],
    headers: dict[str, str],
    prop: str,
    key_name: str,
) -> bool:
    """Read ``run``'s collection in partitions; see ``PartitionedRead.read``."""
    headers = {**headers, "ConsistencyLevel": "eventual"}  # $count needs it
    return PartitionedRead(reader, run, base, params, headers, prop, key_name).read()
