"""The throttle budget every Graph request of this process draws from (``microsoft.throttling``).

One budget per app + tenant, shared by every worker: kept in Redis when the broker is Redis (or
``GRAPH_THROTTLE_STORE`` names a Redis URL), else in an SQLite file beside the database, which the
worker's processes on this machine share. Installed once per process when Django starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import redis
from django.conf import settings

from connections.encryption.fields import plaintext
from connections.models import Connection, ConnectionToken, SyncRun
from microsoft import throttling

RECENT_WINDOWS = 6  # the connection page's last minute, in ten-second windows


def configure() -> throttling.Budget | None:
    """Build and install the budget from the settings (None when switched off)."""
    if not settings.GRAPH_THROTTLE_BUDGET:
        throttling.install(None)
        return None
    budget = throttling.Budget(
        store=_store(),
        fraction=float(settings.GRAPH_THROTTLE_FRACTION),
        units=int(settings.GRAPH_THROTTLE_UNITS) or None,
        tenant_units=dict(settings.GRAPH_THROTTLE_TENANT_UNITS),
    )
    throttling.install(budget)
    return budget


def _store() -> throttling.Store:
    where = settings.GRAPH_THROTTLE_STORE or settings.CELERY_BROKER_URL
    if where.startswith(("redis://", "rediss://", "unix://")):
        timeout = float(settings.BROKER_TIMEOUT_SECONDS)
        client = redis.Redis.from_url(where, socket_timeout=timeout, socket_connect_timeout=timeout)
        return throttling.RedisStore(client, prefix=settings.GRAPH_THROTTLE_PREFIX)
    path = settings.GRAPH_THROTTLE_STORE or str(Path(settings.VAR_DIR) / "throttle.sqlite3")
    return throttling.SQLiteStore(path)


def key_of(connection: Connection) -> str | None:
    """The budget a connection's saved token draws from, or None (no token yet).

    Reads ``connection.token``: a page that joined the token (``select_related``) asks no more."""
    try:
        token: ConnectionToken | None = connection.token
    except ConnectionToken.DoesNotExist:
        token = None
    if token is None or not token.access_token:
        return None
    access_token = plaintext(token.access_token)
    budget = throttling.installed()
    return budget.key_for(access_token) if budget is not None else throttling.budget_key(access_token)


@dataclass(frozen=True)
class TenantUse:
    """The tenant's recent use of its budget, for the connection page."""

    limit: int
    windows: list[int]  # units per ten-second window, newest first

    @property
    def busiest(self) -> int:
        return max(self.windows, default=0)

    @property
    def busiest_percent(self) -> int:
        return round(100 * self.busiest / self.limit) if self.limit else 0


def tenant_use(connection: Connection) -> TenantUse | None:
    """What this connection's app has drawn from the tenant's budget in the last minute (None: no
    budget, no token yet, or the store cannot be reached)."""
    budget = throttling.installed()
    key = key_of(connection) if budget is not None else None
    if budget is None or key is None:
        return None
    try:
        return TenantUse(budget.limit(key), budget.recent_use(key, RECENT_WINDOWS))
    except throttling.STORE_ERRORS:
        return None


def note_tenant_size(run: SyncRun, access_token: str) -> None:
    """A full read of users tells the tenant's size, which decides Graph's budget for it."""
    budget = throttling.installed()
    key = throttling.budget_key(access_token) if budget is not None else None
    if budget is None or key is None or run.entity.strip("/").lower() != "users" or run.odata_filter:
        return
    try:
        budget.tenant_size(key, run.rows)
    except throttling.STORE_ERRORS:
        pass
