"""Personal API tokens: making one (its value shown once), checking a presented one, revoking.

Only the SHA-256 of a value is stored; a presented value is hashed and looked up. Failed attempts
are counted per client address with the log-in lockout's table (under a name no person can have),
so guessing tokens is slowed down as guessing passwords is, and each failure is in the audit log.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connections.accounts import lockout
from connections.library import audit
from connections.models import ApiToken

VALUE_PREFIX = "gcp_"
PREFIX_SHOWN = 12  # "gcp_" and 8 characters of the value

DEFAULT_DAYS = 90
# What the lockout table counts failed token checks under: not a valid user name (it has a space).
LOCKOUT_NAME = "api token"


@dataclass(frozen=True)
class Made:
    token: ApiToken
    value: str  # shown once, never stored


def digest_of(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@sensitive_variables("value")
def create(owner: Any, name: str, days: int, request: HttpRequest | None = None) -> Made:
    """A new token for ``owner`` valid for ``days`` (1…MAX_DAYS); the value is returned once."""
    value = VALUE_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            owner=owner,
            name=name.strip()[:100],
            prefix=value[:PREFIX_SHOWN],
            digest=digest_of(value),
            expires_at=timezone.now() + timedelta(days=days),
        )
        audit.record(
            request or owner,
            None,
            audit.Action.API_TOKEN_CREATED,
            detail=f"“{token.name}” (#{token.pk}), valid {days} days",
        )
    return Made(token, value)


def revoke(owner: Any, token_id: int, request: HttpRequest | None = None) -> ApiToken | None:
    """Revoke one of ``owner``'s tokens (None: no such token of theirs)."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(owner=owner, pk=token_id).first()
        if token is None:
            return None
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit.record(request or owner, None, audit.Action.API_TOKEN_REVOKED, detail=f"“{token.name}” (#{token.pk})")
    return token


def seconds_locked(request: HttpRequest) -> int:
    """How long this address is refused for having presented too many bad tokens (0: it may try)."""
    return lockout.seconds_locked(request, LOCKOUT_NAME)


@sensitive_variables("value")
def authenticate(request: HttpRequest, value: str) -> ApiToken | None:
    """The active token whose value this is, its owner active (last use recorded); None otherwise,
    counted and audited as a failure."""
    token = None
    if value.startswith(VALUE_PREFIX) and len(value) <= 200:
        token = ApiToken.objects.select_related("owner").filter(digest=digest_of(value)).first()
    if token is None or token.state != "active" or not token.owner.is_active:
        why = "unknown token" if token is None else f"{token.state} token “{token.name}” (#{token.pk})"
        if token is not None and token.state == "active":
            why = f"token “{token.name}” (#{token.pk}) of an inactive account"
        lockout.record_failure(request, LOCKOUT_NAME)
        audit.record(
            token.owner if token is not None else None,
            None,
            audit.Action.API_AUTH_FAILED,
            detail=why,
            ip=audit.client_ip(request),
        )
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(seconds=30):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
