"""Recording who did what to which connection: the one function every feature calls.

Secrets never reach the log: fields holding encrypted values are named, never valued, and
free-text detail is passed through the same redaction as log records.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import models
from django.http import HttpRequest

from connections.encryption.fields import EncryptedTextField
from connections.library.access import user_of
from connections.models import AuditEntry, Connection
from connections.models.sso import person_label
from graphconn.redaction import redact

Action = AuditEntry.Action


def secret_field_names(model: type[models.Model] = Connection) -> frozenset[str]:
    return frozenset(f.name for f in model._meta.get_fields() if isinstance(f, EncryptedTextField))


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the proxy-appended X-Forwarded-For entry when AUDIT_TRUST_X_FORWARDED_FOR is set."""
    candidate = request.META.get("REMOTE_ADDR", "")
    if getattr(settings, "AUDIT_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            # The trusted proxy appends the address it saw; earlier entries are client-supplied.
            candidate = forwarded.split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _person(user: Any) -> str:
    """The user name; for people who signed in with Microsoft, display name and UPN."""
    return person_label(user)


def record(
    request_or_user: Any,
    connection: Connection | None,
    action: str,
    fields: Iterable[str] = (),
    ip: str | None = None,
    detail: str = "",
    changes: dict[str, tuple[Any, Any]] | None = None,
) -> AuditEntry:
    """Add one entry. ``changes`` maps non-secret field names to (old, new); secret fields are dropped."""
    user = user_of(request_or_user) if request_or_user is not None else None
    if ip is None and isinstance(request_or_user, HttpRequest):
        ip = client_ip(request_or_user)
    secret = secret_field_names()
    kept = {name: [_plain(old), _plain(new)] for name, (old, new) in (changes or {}).items() if name not in secret}
    return AuditEntry.objects.create(
        connection=connection,
        connection_name=connection.name if connection else "",
        team_id=connection.team_id if connection else None,
        user=user if getattr(user, "is_authenticated", False) else None,
        username=_person(user)[:150] if getattr(user, "is_authenticated", False) else "",
        action=action,
        fields=sorted(set(fields)),
        changes=kept,
        detail=redact(detail)[:500],
        ip=ip,
    )
