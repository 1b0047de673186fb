"""What a Graph request costs: the time it takes and the resource units it spends.

Two models, both off by default so the suite stays fast, switched on with ``python -m graphsandbox``
flags or ``POST /_sandbox/costs``:

- **Latency.** Each Graph answer is held ``scale × (base + items × (per_item + per_property ×
  properties))`` seconds, where ``items`` is how many objects it returns and ``properties`` how many
  properties each carries. The defaults reproduce Microsoft's published sequential figure; the
  derivation is in docs/microsoft-wire-facts.md ("Cost model"). The hold is a sleep on the request's
  own server thread, so other requests are served meanwhile.
- **Budget.** Graph's identity-and-access limit: a token bucket of resource units per app + tenant,
  refilled over a 10-second window, sized from the directory's user count unless set. Every answer
  carries ``x-ms-resource-unit``; past 80 % ``x-ms-throttle-limit-percentage``; past the budget a
  429 with ``Retry-After`` and the throttle scope and reason headers
  (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits).

Counters (units spent, 429s, the busiest 10-second window, requests in flight) are kept whether the
models are on or off, so a benchmark can read them from ``GET /_sandbox/costs``.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Callable, Iterator

# -- the published sequential figure (github.com/piotrci/Microsoft-Graph-Efficient-Operations) -----
PUBLISHED_USERS = 100_000
PUBLISHED_SECONDS = 5.5 * 60  # "around 5.5 minutes to get 100,000 users" one page after another
PUBLISHED_PAGE = 999  # the sample's GetAllUsersBasic: Users.Request().Top(999), no $select
PUBLISHED_PAGES = math.ceil(PUBLISHED_USERS / PUBLISHED_PAGE)  # 101
DEFAULT_USER_PROPERTIES = 11  # GET /users without $select returns eleven properties
# Assumptions: the fixed part of a request, and how a user's share splits between the object and its
# properties (half each). The published figure fixes only their sum.
DEFAULT_BASE_SECONDS = 0.1
_PER_USER = (PUBLISHED_SECONDS - PUBLISHED_PAGES * DEFAULT_BASE_SECONDS) / PUBLISHED_USERS
DEFAULT_PER_ITEM_SECONDS = _PER_USER / 2
DEFAULT_PER_PROPERTY_SECONDS = _PER_USER / 2 / DEFAULT_USER_PROPERTIES

# -- identity-and-access limits (https://learn.microsoft.com/graph/throttling-limits) --------------
WINDOW_SECONDS = 10.0
SMALL, MEDIUM, LARGE = 3_500, 5_000, 8_000  # per app + tenant per 10 s: <50, 50-500, >500 users
WARN_FRACTION = 0.8  # x-ms-throttle-limit-percentage appears above this share of the limit
MAX_FRACTION = 1.8  # the header's documented top value; usage is not counted beyond it
RECENT_WINDOWS = 360  # finished windows kept per app + tenant (an hour of 10-second windows)

# Base costs of the documented paths ({id} = one segment); anything else costs 1.
_BASE_COSTS: tuple[tuple[str, str, int], ...] = (
    ("GET", "applications", 2),
    ("GET", "applications/{id}/extensionProperties", 2),
    ("GET", "contracts", 3),
    ("POST", "directoryObjects/getByIds", 3),
    ("GET", "domains/{id}/domainNameReferences", 4),
    ("POST", "getObjectsById", 3),
    ("GET", "groups/{id}/members", 3),
    ("GET", "groups/{id}/transitiveMembers", 5),
    ("POST", "isMemberOf", 4),
    ("POST", "me/checkMemberGroups", 4),
    ("POST", "me/checkMemberObjects", 4),
    ("POST", "me/getMemberGroups", 2),
    ("POST", "me/getMemberObjects", 2),
    ("GET", "me/licenseDetails", 2),
    ("GET", "me/memberOf", 2),
    ("GET", "me/ownedObjects", 2),
    ("GET", "me/transitiveMemberOf", 2),
    ("GET", "oauth2PermissionGrants", 2),
    ("GET", "oauth2PermissionGrants/{id}", 2),
    ("GET", "servicePrincipals/{id}/appRoleAssignments", 2),
    ("GET", "subscribedSkus", 3),
    ("GET", "users", 2),
)
# Outlook, not identity and access: these paths spend no resource units.
_NOT_IDENTITY = re.compile(r"^(me|users/[^/]+)/(messages|mailFolders|events|calendar)(/|$)", re.IGNORECASE)


def _template(path: str) -> str:
    """``users/abc/memberOf`` -> ``me/memberOf`` (costs of ``me/`` apply to ``users/{id}/``), and
    every second segment -> ``{id}``."""
    segs = [s for s in path.strip("/").split("/") if s]
    if len(segs) >= 2 and segs[0].lower() == "users":
        segs = ["me", *segs[2:]] if len(segs) > 2 else ["users", "{id}"]
    return "/".join("{id}" if i % 2 == 1 and segs[0].lower() != "me" else s for i, s in enumerate(segs)).lower()


_COSTS = {(m, p.lower()): c for m, p, c in _BASE_COSTS}


def is_identity(path: str) -> bool:
    """Whether a Graph path (after the version) draws on the identity-and-access budget."""
    return _NOT_IDENTITY.match(path.strip("/")) is None


def request_cost(method: str, path: str, query: dict[str, str]) -> int:
    """Resource units of one request: the table's base cost, -1 for ``$select``, +1 for ``$expand``,
    -1 for ``$top`` under 20, never below 1. Only the documented paths as a whole are listed, so
    ``GET /users/{id}`` and ``GET /users/delta`` cost the unlisted 1 (our reading of the table)."""
    method = method.upper()
    exact = "/".join(s for s in path.strip("/").split("/") if s).lower()
    cost = _COSTS.get((method, exact)) or _COSTS.get((method, _template(path)), 1)
    options = {k.lower(): v for k, v in query.items()}
    if "$select" in options:
        cost -= 1
    if "$expand" in options:
        cost += 1
    top = options.get("$top", "").strip()
    if top.isdigit() and int(top) < 20:
        cost -= 1
    return max(1, cost)


def budget_for_users(users: int) -> int:
    """The app + tenant resource-unit quota for a tenant of this size (S <50, M 50-500, L >500)."""
    if users < 50:
        return SMALL
    return MEDIUM if users <= 500 else LARGE


@dataclass
class CostSettings:
    latency: bool = False
    latency_scale: float = 1.0
    latency_base_seconds: float = DEFAULT_BASE_SECONDS
    latency_per_item_seconds: float = DEFAULT_PER_ITEM_SECONDS
    latency_per_property_seconds: float = DEFAULT_PER_PROPERTY_SECONDS
    budget: bool = False
    budget_units: int | None = None  # None: from the directory's user count
    budget_window_seconds: float = WINDOW_SECONDS

    def seconds(self, items: int, properties: int) -> float:
        """The model's time for one answer, scaled (0 when the model is off)."""
        if not self.latency:
            return 0.0
        per_item = self.latency_per_item_seconds + self.latency_per_property_seconds * properties
        return self.latency_scale * (self.latency_base_seconds + items * per_item)

    def public(self) -> dict[str, Any]:
        return asdict(self)

    def changed(self, data: dict[str, Any]) -> CostSettings:
        """A copy with a control-API change applied; raises ValueError naming the bad field."""
        known = {f.name for f in fields(self)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown cost settings: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key in ("latency", "budget"):
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
            elif key == "budget_units":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                    raise ValueError("budget_units must be a whole number >= 1, or null to size it from the directory")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{key} must be a number >= 0")
            elif key == "budget_window_seconds" and value == 0:
                raise ValueError("budget_window_seconds must be more than 0")
            values[key] = value
        return replace(self, **values)

    def model(self) -> dict[str, float]:
        """The figures a benchmark compares against, for the current settings (scaled)."""
        on = replace(self, latency=True)
        full = on.seconds(PUBLISHED_PAGE, DEFAULT_USER_PROPERTIES)
        last = on.seconds(PUBLISHED_USERS - (PUBLISHED_PAGES - 1) * PUBLISHED_PAGE, DEFAULT_USER_PROPERTIES)
        return {
            "page_999_default_properties_seconds": full,
            "page_999_id_only_seconds": on.seconds(PUBLISHED_PAGE, 1),
            "serial_100000_users_seconds": (PUBLISHED_PAGES - 1) * full + last,
        }


@dataclass(frozen=True)
class Charge:
    """What the budget said about one request."""

    cost: int
    throttled: bool = False
    retry_after: int | None = None
    limit_fraction: float | None = None  # set when above WARN_FRACTION
    scope: str = ""


@dataclass
class _Account:
    """One app + tenant pair: its token bucket and its counters."""

    limit: int
    tokens: float
    updated: float
    units: int = 0  # units of answered requests
    units_throttled: int = 0
    requests: int = 0
    throttled: int = 0
    window_start: float = 0.0
    window_units: int = 0
    peak_window_units: int = 0
    peak_fraction: float = 0.0
    latency_seconds: float = 0.0
    # units answered in each finished window, oldest first (idle windows count as 0)
    windows: deque[int] = field(default_factory=lambda: deque(maxlen=RECENT_WINDOWS))

    def roll(self, now: float, window: float) -> None:
        """Close the windows that ended before ``now``."""
        if now - self.window_start < window:
            return
        ended = int((now - self.window_start) // window)
        self.windows.append(self.window_units)
        self.windows.extend([0] * min(ended - 1, RECENT_WINDOWS))
        self.window_start += ended * window
        self.window_units = 0

    def public(self, window: float) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "window_seconds": window,
            "units": self.units,
            "units_throttled": self.units_throttled,
            "requests": self.requests,
            "throttled": self.throttled,
            "peak_window_units": self.peak_window_units,
            "peak_window_fraction": round(self.peak_window_units / self.limit, 4),
            "peak_limit_fraction": round(self.peak_fraction, 4),
            "current_window_units": self.window_units,
            "recent_windows": list(self.windows),
            "latency_seconds": round(self.latency_seconds, 4),
        }


class Meter:
    """The cost settings, one token bucket per app + tenant, and the counters; thread-safe."""

    def __init__(self, settings: CostSettings, tenant_id: str, user_count: Callable[[], int]) -> None:
        self.initial = settings
        self.settings = settings
        self.tenant_id = tenant_id
        self.user_count = user_count
        self._lock = threading.Lock()
        self.clock: Callable[[], float] = time.monotonic
        self.clear()

    def clear(self) -> None:
        """Forget every bucket and counter (settings stay)."""
        with self._lock:
            self._accounts: dict[str, _Account] = {}
            self._in_flight = 0
            self._peak_in_flight = 0

    def reset(self) -> None:
        self.settings = self.initial
        self.clear()

    def change(self, data: dict[str, Any]) -> None:
        with self._lock:
            self.settings = self.settings.changed(data)
            self._accounts.clear()  # a new budget starts full

    def limit(self) -> int:
        s = self.settings
        return s.budget_units if s.budget_units is not None else budget_for_users(self.user_count())

    def charge(self, app_id: str, method: str, path: str, query: dict[str, str]) -> Charge:
        """Cost a request and draw it from the app's bucket; a request past the budget is throttled
        (and still counts, as Graph's usage does, up to the header's 180 %)."""
        cost = request_cost(method, path, query)
        settings = self.settings
        key = f"{app_id}/{self.tenant_id}"
        now = self.clock()
        window = settings.budget_window_seconds
        with self._lock:
            account = self._accounts.get(key)
            if account is None:
                limit = self.limit()
                account = self._accounts[key] = _Account(limit=limit, tokens=limit, updated=now, window_start=now)
            limit = account.limit
            account.tokens = min(limit, account.tokens + (now - account.updated) * limit / window)
            account.updated = now
            account.roll(now, window)
            account.requests += 1
            throttled = settings.budget and account.tokens < cost
            account.tokens = max(account.tokens - cost, limit * (1 - MAX_FRACTION))
            fraction = (limit - account.tokens) / limit
            account.peak_fraction = max(account.peak_fraction, fraction)
            if throttled:
                account.throttled += 1
                account.units_throttled += cost
                wait = (cost - account.tokens) * window / limit
                return Charge(cost, True, max(1, math.ceil(wait)), None, self._scope(app_id))
            account.units += cost
            account.window_units += cost
            account.peak_window_units = max(account.peak_window_units, account.window_units)
        shown = min(fraction, MAX_FRACTION) if settings.budget and fraction > WARN_FRACTION else None
        return Charge(cost, limit_fraction=shown)

    def _scope(self, app_id: str) -> str:
        return f"Tenant_Application/ReadWrite/{app_id}/{self.tenant_id}"

    def record_latency(self, app_id: str, seconds: float) -> None:
        with self._lock:
            account = self._accounts.get(f"{app_id}/{self.tenant_id}")
            if account is not None:
                account.latency_seconds += seconds

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Count a Graph request in flight (the peak shows how concurrent a client really was)."""
        with self._lock:
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def public(self) -> dict[str, Any]:
        settings = self.settings
        now = self.clock()
        with self._lock:
            for account in self._accounts.values():
                account.roll(now, settings.budget_window_seconds)
            accounts = {k: a.public(settings.budget_window_seconds) for k, a in self._accounts.items()}
            in_flight, peak = self._in_flight, self._peak_in_flight
        return {
            "settings": settings.public(),
            "budget_limit": self.limit(),
            "model": settings.model(),
            "accounts": accounts,
            "in_flight": in_flight,
            "peak_in_flight": peak,
        }


def hold(seconds: float) -> None:
    """Sleep the modelled latency on this request's thread only."""
    if seconds > 0:
        time.sleep(seconds)
