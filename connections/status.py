"""What the library shows about each connection besides its profile: token, last sync, problems.

``with_status(queryset)`` is the one place the list's status comes from: it annotates every row,
in the same single query, with

- ``token_state``: "none", "valid", "expired" or "error"; ``token_expires_at``; ``token_error``;
- ``last_sync_status``, ``last_sync_rows``, ``last_sync_at`` (None when never synced).

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
        last_sync_status=Subquery(last_sync.values("status")[:1]),
        last_sync_rows=Subquery(last_sync.values("rows")[:1]),
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
    if getattr(connection, "last_sync_status", None) == SyncRun.Status.FAILED:
        found.append("The last sync failed.")
    return found
