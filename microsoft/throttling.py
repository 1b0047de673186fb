"""Graph's identity throttling: what a request costs, what an answer says, and one budget per app + tenant.

Microsoft throttles directory reads with a budget of *resource units* per app and tenant per ten
seconds (docs/microsoft-wire-facts.md, "Identity and access budget (resource units)" and "One budget
per app + tenant, on the client's side"). Every worker that reads a tenant with one app draws from
that one budget, so the budget is kept in a store all of them share (Redis, or an SQLite file on
one machine) rather than in each process:

- **before a request**, ``Budget.draw`` takes the request's estimated cost, waiting while the
  tenant's last ten seconds are full, and while this reader has taken its fair share (the budget
  divided among the readers that drew in the last window);
- **after the answer**, ``Budget.settle`` takes ``x-ms-resource-unit`` as the true cost (drawing
  the difference, and remembering it for the next request of that kind), and a reported
  ``x-ms-throttle-limit-percentage`` slows every reader of the tenant down for a while.

The sliding windows are pyrate-limiter's buckets; this module adds the costs, the fair share and
the learning. ``graphclient.get`` calls ``draw``/``settle`` around every Graph GET; a run's tally
and wait callback reach it through ``reading`` (a context variable, so no signature changes).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import filelock
import redis
from pyrate_limiter import Rate, RateItem
from pyrate_limiter.buckets import InMemoryBucket, RedisBucket, SQLiteBucket

from microsoft import claims

log = logging.getLogger(__name__)
STORE_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, sqlite3.Error, filelock.Timeout, OSError)

WINDOW_MS = 10_000  # Graph's app + tenant identity budget is per ten seconds
# A reported limit percentage up to this much above our own draws' share of the budget is ours.
EXPLAINED_MARGIN = 0.05
CEILING_SECONDS = 600.0  # how long a budget learned from Graph's 429 holds (then the documented size again)
SMALL, MEDIUM, LARGE = 3_500, 5_000, 8_000

# Documented base costs of reads in the identity limits, by path ("{id}": one segment; a user's own
# paths are listed as me/…, which users/{id}/… costs the same). Only whole paths are listed, so
# GET users/{id} and users/delta cost the unlisted 1.
BASE_COSTS: dict[str, int] = {
    "applications": 2,
    "applications/{id}/extensionproperties": 2,
    "contracts": 3,
    "domains/{id}/domainnamereferences": 4,
    "groups/{id}/members": 3,
    "groups/{id}/transitivemembers": 5,
    "me/licensedetails": 2,
    "me/memberof": 2,
    "me/ownedobjects": 2,
    "me/transitivememberof": 2,
    "oauth2permissiongrants": 2,
    "oauth2permissiongrants/{id}": 2,
    "serviceprincipals/{id}/approleassignments": 2,
    "subscribedskus": 3,
    "users": 2,
}
VERSION_SEGMENTS = frozenset({"v1.0", "beta"})


def request_cost(url: str, params: dict[str, str] | None = None) -> int:
    """The documented resource-unit cost of a GET: the path's base cost, ``$select`` −1,
    ``$expand`` +1, ``$top`` under 20 −1; never below 1."""
    parts = urlsplit(url)
    query = {k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
    query.update({k.lower(): v for k, v in (params or {}).items()})
    cost = base_cost(parts.path)
    if "$select" in query:
        cost -= 1
    if "$expand" in query:
        cost += 1
    top = query.get("$top", "").strip()
    if top.isdigit() and int(top) < 20:
        cost -= 1
    return max(1, cost)


def base_cost(path: str) -> int:
    """The table's cost of a URL path (after the version segment; anything before it, such as a
    proxy's prefix, is skipped)."""
    segments = [s.lower() for s in path.strip("/").split("/") if s]
    while segments and segments[0] not in VERSION_SEGMENTS:
        segments.pop(0)
    segments = segments[1:]
    exact = "/".join(segments)
    if exact in BASE_COSTS:
        return BASE_COSTS[exact]
    if len(segments) > 2 and segments[0] == "users":
        segments = ["me", *segments[2:]]
    if segments and segments[0] != "me":
        segments = ["{id}" if i % 2 == 1 else s for i, s in enumerate(segments)]
    return BASE_COSTS.get("/".join(segments), 1)


def request_kind(url: str, params: dict[str, str] | None = None) -> str:
    """What decides a request's cost, for remembering what Graph charged: the path (ids kept, they
    are few per tenant) and which cost-changing options it carries."""
    parts = urlsplit(url)
    names = {k.lower() for k, _ in parse_qsl(parts.query)} | {k.lower() for k in (params or {})}
    options = sorted(names & {"$select", "$expand", "$top"})
    return f"{parts.path.lower()}?{','.join(options)}"


def tenant_budget(users: int | None) -> int:
    """The app + tenant budget per ten seconds by the tenant's number of users (unknown: the smallest)."""
    if users is None or users < 50:
        return SMALL
    return MEDIUM if users <= 500 else LARGE


@dataclass(frozen=True)
class Answer:
    """What Graph's answer says about throttling (headers in lower case)."""

    resource_units: int | None = None
    limit_percentage: float | None = None
    scope: str = ""
    retry_after: float | None = None

    @classmethod
    def of(cls, headers: dict[str, str]) -> Answer:
        return cls(
            resource_units=_number(headers.get("x-ms-resource-unit"), int),
            limit_percentage=_number(headers.get("x-ms-throttle-limit-percentage"), float),
            scope=(headers.get("x-ms-throttle-scope") or "").strip(),
            retry_after=_number(headers.get("retry-after"), float),
        )

    @property
    def scope_parts(self) -> dict[str, str]:
        """``x-ms-throttle-scope`` = ``<scope>/<limit>/<appId>/<tenantId>``, split into its parts."""
        parts = self.scope.split("/")
        if len(parts) != 4:
            return {}
        return dict(zip(("scope", "limit", "app_id", "tenant_id"), parts, strict=True))


def _number(text: str | None, kind: Callable[[str], Any]) -> Any:
    try:
        value = kind((text or "").strip())
    except ValueError:
        return None
    return value if value >= 0 else None


@functools.lru_cache(maxsize=256)
def budget_key(access_token: str) -> str | None:
    """The budget a token draws from: its app and tenant (read from the token's own claims, which
    name exactly what Graph throttles by), hashed; None when the token says neither."""
    said = claims.decode(access_token)
    if not said.app_id or not said.tenant_id:
        return None
    return hashlib.sha256(f"{said.app_id.lower()}/{said.tenant_id.lower()}".encode()).hexdigest()[:24]


@functools.lru_cache(maxsize=256)
def tenant_of(access_token: str) -> str:
    """The tenant a token is for (lower case; "" when it does not say)."""
    return (claims.decode(access_token).tenant_id or "").lower()


# -- what one run spent ----------------------------------------------------------------------------


@dataclass
class Tally:
    """What a run's requests cost and waited; added to from the run's threads."""

    units: int = 0
    highest_percentage: float | None = None
    budget_wait: float = 0.0
    throttle_wait: float = 0.0
    explained: int = 0  # reports of Graph's limit percentage that the run's own budget explained
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def spent(self, units: int, percentage: float | None) -> None:
        with self.lock:
            self.units += units
            if percentage is not None and (self.highest_percentage is None or percentage > self.highest_percentage):
                self.highest_percentage = percentage

    def explained_report(self) -> None:
        with self.lock:
            self.explained += 1

    def waited_for_budget(self, seconds: float) -> None:
        with self.lock:
            self.budget_wait += seconds

    def waited_for_throttle(self, seconds: float) -> None:
        with self.lock:
            self.throttle_wait += seconds


# Sleeps a wait for the budget (seconds), telling whoever reads so; the default just sleeps.
BudgetWait = Callable[[float], None]


class BudgetBusy(Exception):
    """The budget asked for a wait where the caller would rather not wait (a prefetch)."""


@dataclass(frozen=True)
class Reading:
    """Who is reading: the run's id (its fair share), its tally, how it sleeps, and whether it waits."""

    reader: str = ""
    tally: Tally | None = None
    wait: BudgetWait | None = None
    blocking: bool = True

    def nonblocking(self) -> Reading:
        return Reading(self.reader, self.tally, self.wait, blocking=False)

    def run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``function`` with this reading in force (for another thread)."""
        token = _current.set(self)
        try:
            return function(*args, **kwargs)
        finally:
            _current.reset(token)


_current: contextvars.ContextVar[Reading | None] = contextvars.ContextVar("graph_reading", default=None)


@contextlib.contextmanager
def reading(reader: Reading) -> Iterator[Reading]:
    """Graph GETs in this block draw for ``reader`` (its fair share, its tally, its way of waiting)."""
    token = _current.set(reader)
    try:
        yield reader
    finally:
        _current.reset(token)


def current() -> Reading | None:
    return _current.get()


# -- the shared store ------------------------------------------------------------------------------


class Store(Protocol):
    """Where a tenant's draws, readers and learned facts live, shared by every worker."""

    def bucket(self, key: str) -> Any: ...
    def readers(self, key: str, reader: str, now_ms: int, window_ms: int) -> int: ...
    def set_fact(self, key: str, name: str, value: float, ttl: float) -> None: ...
    def fact(self, key: str, name: str) -> float | None: ...
    def use(self, key: str, now_ms: int, windows: int, window_ms: int) -> list[int]: ...
    def touch(self, key: str, window_ms: int) -> None: ...
    def forget(self) -> None: ...


class RedisStore:
    """The budget in Redis: one sorted set of draws per tenant (pyrate-limiter's RedisBucket), a
    sorted set of readers, and plain keys with an expiry for learned facts."""

    def __init__(self, client: Any, prefix: str = "graphconn:throttle:") -> None:
        self.client = client
        self.prefix = prefix
        self._buckets: dict[str, RedisBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, key: str) -> RedisBucket:
        with self._lock:
            if key not in self._buckets:
                self._buckets[key] = RedisBucket.init([Rate(1, WINDOW_MS)], self.client, f"{self.prefix}{key}:draws")
            return self._buckets[key]

    def readers(self, key: str, reader: str, now_ms: int, window_ms: int) -> int:
        name = f"{self.prefix}{key}:readers"
        pipe = self.client.pipeline()
        if reader:
            pipe.zadd(name, {reader: now_ms})
        pipe.zremrangebyscore(name, 0, now_ms - window_ms)
        pipe.zcard(name)
        pipe.pexpire(name, 6 * window_ms)
        return int(pipe.execute()[-2])

    def set_fact(self, key: str, name: str, value: float, ttl: float) -> None:
        self.client.set(f"{self.prefix}{key}:{name}", repr(value), px=max(1, int(ttl * 1000)))

    def fact(self, key: str, name: str) -> float | None:
        value = self.client.get(f"{self.prefix}{key}:{name}")
        return float(value) if value is not None else None

    def forget(self) -> None:
        """After an error: build the buckets again (a restarted Redis has lost their script)."""
        with self._lock:
            self._buckets.clear()

    def touch(self, key: str, window_ms: int) -> None:
        """A tenant nobody reads any more leaves nothing behind."""
        self.client.pexpire(f"{self.prefix}{key}:draws", 6 * window_ms)

    def use(self, key: str, now_ms: int, windows: int, window_ms: int) -> list[int]:
        name = f"{self.prefix}{key}:draws"
        pipe = self.client.pipeline()
        for i in range(windows):
            pipe.zcount(name, now_ms - (i + 1) * window_ms + 1, now_ms - i * window_ms)
        return [int(n) for n in pipe.execute()]


class SQLiteStore:
    """The budget in one SQLite file, shared by the processes of one machine: pyrate-limiter's
    SQLiteBucket (a file lock makes its count-and-insert atomic across processes), one table per
    tenant, plus small tables of readers and learned facts."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._pid = -1
        self._lock = threading.RLock()
        self._buckets: dict[str, SQLiteBucket] = {}
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # a forked worker opens its own connections
            self._pid, self._buckets = os.getpid(), {}
            self._conn = sqlite3.connect(self.path, timeout=10, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS readers (key TEXT, reader TEXT, seen INTEGER, PRIMARY KEY (key, reader))"
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS facts (key TEXT, name TEXT, value REAL, until REAL, PRIMARY KEY (key, name))"
            )
        assert self._conn is not None
        return self._conn

    def bucket(self, key: str) -> SQLiteBucket:
        with self._lock:
            self._connection()
            if key not in self._buckets:
                made = SQLiteBucket.init_from_file(
                    [Rate(1, WINDOW_MS)], table=f"draws_{key}", db_path=self.path, use_file_lock=True
                )
                # The file lock alone makes this process's threads poll for it (sleeping 50 ms a
                # try), which a partitioned read's many threads turn into waits before every page:
                # they queue on a thread lock instead, and only one of them takes the file lock.
                self._buckets[key] = SQLiteBucket(made.rates, made.conn, made.table, lock=_ThreadsThenFile(made.lock))
            return self._buckets[key]

    def readers(self, key: str, reader: str, now_ms: int, window_ms: int) -> int:
        with self._lock:
            conn = self._connection()
            if reader:
                conn.execute("INSERT OR REPLACE INTO readers VALUES (?, ?, ?)", (key, reader, now_ms))
            conn.execute("DELETE FROM readers WHERE seen < ?", (now_ms - window_ms,))
            return int(conn.execute("SELECT COUNT(*) FROM readers WHERE key = ?", (key,)).fetchone()[0])

    def set_fact(self, key: str, name: str, value: float, ttl: float) -> None:
        with self._lock:
            self._connection().execute(
                "INSERT OR REPLACE INTO facts VALUES (?, ?, ?, ?)", (key, name, value, time.time() + ttl)
            )

    def fact(self, key: str, name: str) -> float | None:
        with self._lock:
            row = (
                self._connection()
                .execute("SELECT value FROM facts WHERE key = ? AND name = ? AND until > ?", (key, name, time.time()))
                .fetchone()
            )
            return float(row[0]) if row else None

    def forget(self) -> None:
        """After an error: open the file again."""
        with self._lock:
            if self._pid == os.getpid():
                for bucket in self._buckets.values():
                    bucket.close()
                if self._conn is not None:
                    self._conn.close()
            self._pid = -1

    def touch(self, key: str, window_ms: int) -> None:
        """Nothing to do: old draws are leaked when a table grows."""

    def use(self, key: str, now_ms: int, windows: int, window_ms: int) -> list[int]:
        with self._lock:
            conn = self._connection()
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (f"draws_{key}",)).fetchone():
                return [0] * windows
            return [
                int(
                    conn.execute(
                        f'SELECT COUNT(*) FROM "draws_{key}" WHERE item_timestamp > ? AND item_timestamp <= ?',  # noqa: S608  (key is a hex digest)
                        (now_ms - (i + 1) * window_ms, now_ms - i * window_ms),
                    ).fetchone()[0]
                )
                for i in range(windows)
            ]


class _ThreadsThenFile:
    """A lock for one process's threads first, then ``file`` (a lock shared with other processes)."""

    def __init__(self, file: Any) -> None:
        self.threads = threading.RLock()
        self.file = file

    def __enter__(self) -> _ThreadsThenFile:
        self.threads.acquire()
        try:
            self.file.acquire()
        except BaseException:
            self.threads.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.file.release()
        finally:
            self.threads.release()


# -- the budget ------------------------------------------------------------------------------------


@dataclass
class Budget:
    """One budget per app + tenant in ``store``; see the module docstring.

    ``fraction``: the part of Graph's budget we let ourselves use (Graph may count requests we do
    not see, such as another program with the same app). ``units``: Graph's budget per ten seconds
    when set, else by the tenant's size (learned with ``tenant_size``; unknown: the smallest).
    ``target``: the limit percentage above which every reader of the tenant slows down.
    ``max_wait``: the longest a request outside a run (Test connection) waits before it just asks.
    """

    store: Store
    fraction: float = 0.9
    units: int | None = None
    tenant_units: dict[str, int] = field(default_factory=dict)
    target: float = 0.8
    max_wait: float = 10.0
    window_ms: int = WINDOW_MS  # Graph's is ten seconds; tests shorten it
    refresh: float = 1.0  # seconds a process keeps the limit and the number of readers it read
    sleep: Callable[[float], None] = time.sleep
    learned: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    _named: dict[str, int] = field(default_factory=dict, repr=False)  # budget key -> units of tenant_units
    _shares: dict[str, InMemoryBucket] = field(default_factory=dict, repr=False)
    _debt: dict[str, int] = field(default_factory=dict, repr=False)
    _cache: dict[tuple[str, str], tuple[float, int, int]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # the limit in force

    def limit(self, key: str) -> int:
        """Units this app may draw from the tenant per ten seconds now (all readers together)."""
        slowdown = self.store.fact(key, "slowdown") or 1.0
        return max(1, int(self.graph_units(key) * self.fraction * slowdown))

    def graph_units(self, key: str) -> int:
        """Graph's budget for the app + tenant per ten seconds, as far as we know it: named, set, or
        by the tenant's size; and never more than what Graph last refused at (``_refused``)."""
        if key in self._named:
            units = self._named[key]
        elif self.units:
            units = self.units
        else:
            size = self.store.fact(key, "users")
            units = tenant_budget(int(size) if size is not None else None)
        ceiling = self.store.fact(key, "ceiling")
        return min(units, int(ceiling)) if ceiling else units

    def name(self, key: str, tenant: str) -> None:
        """Tell the budget which tenant ``key`` is for (its ``tenant_units``, if any, then apply)."""
        units = self.tenant_units.get(tenant.lower())
        if units:
            self._named[key] = units

    def key_for(self, access_token: str) -> str | None:
        """The budget ``access_token`` draws from (None: the token names no app or tenant), its
        tenant named when ``tenant_units`` gives budgets by tenant."""
        key = budget_key(access_token)
        if key is not None and self.tenant_units:
            self.name(key, tenant_of(access_token))
        return key

    def tenant_size(self, key: str, users: int) -> None:
        """Remember how many users the tenant has (its budget size) for a day."""
        self.store.set_fact(key, "users", float(users), 24 * 3600)

    def recent_use(self, key: str, windows: int = 6) -> list[int]:
        """Units drawn in each of the last ``windows`` ten-second windows, newest first."""
        return self.store.use(key, _now_ms(), windows, self.window_ms)

    # drawing

    def estimate(self, key: str, url: str, params: dict[str, str] | None) -> int:
        return self.learned.get((key, request_kind(url, params))) or request_cost(url, params)

    def draw(self, key: str, units: int, reading: Reading | None = None) -> float:
        """Take ``units`` (plus what Graph charged beyond earlier estimates) from the tenant's budget
        and the reader's fair share, waiting as needed; returns the seconds waited.

        A run waits as long as it takes (its page says why); a request outside a run waits at most
        ``max_wait`` and then asks anyway (Graph's 429 and its Retry-After still hold); a prefetch
        (non-blocking) raises ``BudgetBusy`` instead of waiting, and its page is then read in turn.
        """
        reading = reading or Reading()
        with self._lock:
            units += self._debt.pop(key, 0)
        limit, readers = self._terms(key, reading.reader)
        units = max(1, min(units, limit))
        waited = 0.0
        if reading.reader:
            share = max(1, limit // readers)
            waited += self._take(self._share(reading.reader, share), min(units, share), reading, waited)
        bucket = self.store.bucket(key)
        bucket.rates = [Rate(limit, self.window_ms)]
        waited += self._take(bucket, units, reading, waited)
        if waited and reading.tally is not None:
            reading.tally.waited_for_budget(waited)
        return waited

    def _terms(self, key: str, reader: str) -> tuple[int, int]:
        """The limit in force and the number of readers of the tenant, read from the store at most
        every ``refresh`` seconds per reader (so a request costs one round trip to the store, its
        draw); the store's housekeeping is done then too."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get((key, reader))
        if cached is not None and now - cached[0] < self.refresh:
            return cached[1], cached[2]
        limit = self.limit(key)
        readers = max(1, self.store.readers(key, reader, _now_ms(), self.window_ms)) if reader else 1
        self.store.touch(key, self.window_ms)
        bucket = self.store.bucket(key)
        if bucket.count() > 8 * limit:
            bucket.leak(_now_ms() - 5 * self.window_ms)  # keeps six windows, for recent_use
        with self._lock:
            if len(self._cache) > 1024:
                self._cache.clear()
            self._cache[(key, reader)] = (now, limit, readers)
        return limit, readers

    def settle(self, key: str, url: str, params: dict[str, str] | None, drawn: int, answer: Answer) -> None:
        """Learn from Graph's answer: what the request really cost (the difference is drawn with the
        next request), and whether the tenant's budget runs short (everyone slows down a while)."""
        charged = answer.resource_units
        if charged is not None and charged > 0:
            with self._lock:
                self.learned[(key, request_kind(url, params))] = charged
                if charged > drawn:
                    self._debt[key] = self._debt.get(key, 0) + charged - drawn
        if answer.scope:
            self._refused(key)
        reading = current()
        if answer.limit_percentage is not None and answer.limit_percentage > self.target:
            if self._explained(key, answer.limit_percentage):
                if reading is not None and reading.tally is not None:
                    reading.tally.explained_report()
            else:
                self._slow_down(key, answer.limit_percentage)
                self._forget_terms(key)
        if reading is not None and reading.tally is not None:
            reading.tally.spent(charged if charged is not None else drawn, answer.limit_percentage)

    def _explained(self, key: str, percentage: float) -> bool:
        """Whether our own draws of the last window account for the use Graph reports. Then the
        limit already keeps us under Graph's budget (at ``fraction`` of it, in any window), and
        slowing down would only leave part of it unused; a report beyond our draws means someone
        else draws on the budget too (or it is smaller than we think), and we slow down."""
        (drawn,) = self.store.use(key, _now_ms(), 1, self.window_ms)
        return percentage <= drawn / self.graph_units(key) + EXPLAINED_MARGIN

    def _refused(self, key: str) -> None:
        """Graph answered 429 for the tenant's budget (``x-ms-throttle-scope``) while every reader
        together drew what the store counts for the last window: Graph's budget is no more than
        that (smaller than its documented size, or shared with a program we do not see). Taking it
        as the ceiling for ``CEILING_SECONDS`` slows every reader to what Graph allows, instead of
        each meeting 429s until its retries run out; a later refusal can only lower it."""
        (drawn,) = self.store.use(key, _now_ms(), 1, self.window_ms)
        if drawn <= 0:
            return
        known = self.store.fact(key, "ceiling")
        ceiling = min(drawn, int(known)) if known else drawn
        self.store.set_fact(key, "ceiling", float(ceiling), CEILING_SECONDS)
        self._forget_terms(key)

    def _forget_terms(self, key: str) -> None:
        """This process reads the tenant's new limit at once; the others within ``refresh``."""
        with self._lock:
            for cached in [k for k in self._cache if k[0] == key]:
                del self._cache[cached]

    def _slow_down(self, key: str, percentage: float) -> None:
        """Aim every reader of the tenant at ``target`` of what Graph says was used, for three windows.
        Reports within one window of a slowdown describe the use before it, so they slow down no
        further; a report after that (someone else uses the budget too) slows down again."""
        before = self.store.fact(key, "slowdown") or 1.0
        aim = self.target / percentage
        if self.store.fact(key, "slowed") is not None:
            slower = min(before, aim)
        else:
            slower = before * aim
            self.store.set_fact(key, "slowed", 1.0, self.window_ms / 1000)
        self.store.set_fact(key, "slowdown", max(0.1, slower), 3 * self.window_ms / 1000)

    def _share(self, reader: str, share: int) -> InMemoryBucket:
        with self._lock:
            if reader not in self._shares:
                if len(self._shares) > 256:
                    self._shares.clear()
                self._shares[reader] = InMemoryBucket([Rate(share, self.window_ms)])
            bucket = self._shares[reader]
        bucket.rates = [Rate(share, self.window_ms)]
        return bucket

    def _take(self, bucket: Any, units: int, reading: Reading, waited: float) -> float:
        """Put ``units`` into ``bucket``, sleeping until they fit; the seconds slept."""
        slept = 0.0
        while True:
            item = RateItem(reading.reader or "request", _now_ms(), units)
            if bucket.put(item):
                return slept
            if not reading.blocking:
                raise BudgetBusy()
            wait_ms = bucket.waiting(item)
            if wait_ms < 0:  # can never fit (the limit shrank under it): let it through
                return slept
            pause = min(self.window_ms / 1000, max(0.02, wait_ms / 1000))
            if reading.tally is None and waited + slept + pause > self.max_wait:
                return slept
            (reading.wait or self.sleep)(pause)
            slept += pause


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# -- the installed budget (one per process) --------------------------------------------------------

_installed: Budget | None = None


@dataclass(frozen=True)
class Ticket:
    """One request's draw, to be settled with its answer."""

    budget: Budget
    key: str
    url: str
    params: dict[str, str] | None
    drawn: int


def before(access_token: str, url: str, params: dict[str, str] | None) -> Ticket | None:
    """Draw a GET's estimated cost from its app + tenant budget (when one is installed). A store that
    cannot be reached costs the budget, never the read: the request goes on, and Graph's own 429s
    are still honoured."""
    budget = _installed
    key = budget.key_for(access_token) if budget is not None else None
    if budget is None or key is None:
        return None
    drawn = budget.estimate(key, url, params)
    try:
        budget.draw(key, drawn, current())
    except STORE_ERRORS as error:
        log.warning("throttle budget unavailable (%s): reading without it", type(error).__name__)
        budget.store.forget()
        return None
    return Ticket(budget, key, url, params, drawn)


def after(ticket: Ticket | None, headers: Any) -> None:
    """Learn from the answer to a request drawn with ``before``."""
    if ticket is None:
        return
    answer = Answer.of({str(k).lower(): v for k, v in headers.items()})
    try:
        ticket.budget.settle(ticket.key, ticket.url, ticket.params, ticket.drawn, answer)
    except STORE_ERRORS as error:
        log.warning("throttle budget unavailable (%s): not learning from this answer", type(error).__name__)


def install(budget: Budget | None) -> None:
    """Make ``budget`` the one every Graph GET of this process draws from (None: no budget)."""
    global _installed
    _installed = budget


def installed() -> Budget | None:
    return _installed
