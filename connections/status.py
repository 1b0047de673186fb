"""What the library shows about each connection besides its profile: token, last sync, problems.

``with_status(queryset)`` is the one place the list's status comes from: it annotates every row,
in the same single query, with

- ``token_state``: "none", "valid", "expired" or "error"; ``token_expires_at``; ``token_error``;
- ``last_sync_status``, ``last_sync_rows``, ``last_sync_at`` and the change counts
  ``last_sync_added``/``_changed``/``_removed`` (None when never synced or not compared);
- ``graph_refusal``: the title of Graph's last refusal (401/403) diagnosis, "" when none.

``health(connection, problems)`` turns those into the one word the health board shows.

The token state comes from the connection's ``ConnectionToken`` row; the last sync comes from the connection's newest
``SyncRun``. Pages call ``with_status`` and ``problems`` and nothing else.
"""
from __future__ import annotations

import datetime

from django.db import models
from django.db.models import Case, F, OuterRef, Subquery, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import credentials
from .models import Connection, ConnectionToken, SyncRun


def with_status(queryset: models.QuerySet[Connection]) -> models.QuerySet[Connection]:
    now = timezone.now()
    last_sync = SyncRun.objects.filter(connection=OuterRef("pk")).order_by("-created_at")
    return queryset.annotate(
        token_state=Case(
            When(token__isnull=True, then=Value("none")),
            When(token__state=ConnectionToken.State.VALID, token__expires_at__lte=now, then=Value("expired")),
            When(token__state=ConnectionToken.State.SIGN_IN, then=Value("sign_in")),
            default=F("token__state"),
            output_field=models.CharField(),
        ),
        token_expires_at=F("token__expires_at"),
        # KT() cannot follow a relation ("token__…" would read the join column), so a subquery.
        token_error=Coalesce(Subquery(ConnectionToken.objects.filter(pk=OuterRef("pk"))
                                      .values(title=KT("error__title"))[:1], output_field=models.CharField()),
                             Value("")),
        graph_refusal=Coalesce(Subquery(ConnectionToken.objects.filter(pk=OuterRef("pk"))
                                        .values(title=KT("graph_error__diagnosis__title"))[:1],
                                        output_field=models.CharField()), Value("")),
        last_sync_status=Subquery(last_sync.values("status")[:1]),
        last_sync_rows=Subquery(last_sync.values("rows")[:1]),
        last_sync_added=Subquery(last_sync.values("added")[:1]),
        last_sync_changed=Subquery(last_sync.values("changed")[:1]),
        last_sync_removed=Subquery(last_sync.values("removed")[:1]),
        last_sync_at=Subquery(
            last_sync.annotate(_when=Coalesce("finished_at", "started_at", "created_at")).values("_when")[:1]
        ),
    )


def problems(connection: Connection, today: datetime.date | None = None) -> list[str]:
    """Plain-word problems of one connection (annotated by ``with_status``), most urgent first."""
    found: list[str] = []
    if connection.uses_certificate:
        if credentials.certificate_of(connection) is None:
            found.append("No certificate is uploaded.")
    else:
        state = connection.secret_state
        if state == "unreadable":
            found.append("The client secret is unreadable with the configured keys — re-enter it.")
        elif state == "none":
            found.append("No client secret is saved.")
    level = credentials.expiry(connection, today or timezone.localdate()).level
    what = "certificate" if connection.uses_certificate else "client secret"
    if level == "expired":
        found.append(f"The {what} has expired.")
    elif level in ("7", "1"):
        found.append(f"The {what} expires within {'a day' if level == '1' else '7 days'}.")
    if getattr(connection, "token_state", "none") == "error":
        found.append(f"The last token request failed: {connection.token_error or 'see the connection'}.")
    elif getattr(connection, "token_state", "none") == "sign_in":
        found.append("Someone must sign in with Microsoft again.")
    if getattr(connection, "graph_refusal", ""):
        found.append(f"Graph refused the last read: {connection.graph_refusal}.")
    if getattr(connection, "last_sync_status", None) == SyncRun.Status.FAILED:
        found.append("The last sync failed.")
    return found


class Health(models.TextChoices):
    """The health board's one word per connection, most urgent first (the list sorts by it)."""

    FAILING = "failing", "Failing"
    ATTENTION = "attention", "Needs attention"
    NEVER = "never", "Never run"
    HEALTHY = "healthy", "Healthy"


HEALTH_ORDER = {state: rank for rank, state in enumerate(Health)}


def health(connection: Connection, found: list[str], expiry: credentials.Expiry) -> Health:
    """Failing when the work itself fails (token, last sync, Graph's refusal, an expired credential);
    needs attention for anything else ``problems`` found; never run before the first token or sync."""
    failing = (getattr(connection, "token_state", "none") == "error"
               or getattr(connection, "last_sync_status", None) == SyncRun.Status.FAILED
               or bool(getattr(connection, "graph_refusal", ""))
               or expiry.level == "expired")
    if failing:
        return Health.FAILING
    if found:
        return Health.ATTENTION
    if getattr(connection, "token_state", "none") == "none" and not getattr(connection, "last_sync_status", None):
        return Health.NEVER
    return Health.HEALTHY
