"""Getting, refreshing and storing a connection's access token — single-flight per connection.

``fetch_token`` is the only code that sends a token request. It first claims the connection's
``ConnectionToken`` row with a conditional UPDATE; concurrent callers (double clicks, beats,
fifty tasks at once) find the claim taken and wait for that fetch's result instead of sending
their own request. The claim expires by itself so a killed worker cannot keep it.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connections import alerts, credentials
from connections.encryption.fields import plaintext
from connections.encryption.keys import UndecryptableSecret
from connections.library import audit
from connections.models import Connection, ConnectionToken, GraphRefusal, TokenFetch
from connections.policy import outbound_policy
from microsoft import claims, clouds, diagnoses, tokenclient

log = logging.getLogger(__name__)

CLAIM_SECONDS = 180  # longer than one token request with all its retries
REUSE_SECONDS = 300  # a cached token is reused only while it has 5 more minutes
WAIT_SECONDS = 120  # how long a caller waits for another caller's fetch

# Audit actions are AuditEntry.Action values; a failure is recorded under the action tried.
AUDIT_ACTIONS: dict[str, str] = {
    TokenFetch.Reason.FETCH: "token_fetched",
    TokenFetch.Reason.REFETCH: "token_refetched",
    TokenFetch.Reason.REFRESH: "token_fetched",
    TokenFetch.Reason.TEST: "token_fetched",
    TokenFetch.Reason.SIGN_IN: "signed_in",
    TokenFetch.Reason.EXPIRED: "token_refetched",
}


@dataclass
class Outcome:
    """What a caller gets back: the token row, and either success or a diagnosis."""

    ok: bool
    token: ConnectionToken
    fetch: TokenFetch | None = None
    diagnosis: diagnoses.Diagnosis | None = None
    cached: bool = False  # an existing token was still good; nothing was sent
    joined: bool = False  # another caller's fetch answered this one

    def as_result(self) -> dict[str, Any]:
        """JSON for Job.result (no secrets)."""
        result: dict[str, Any] = {"ok": self.ok, "cached": self.cached, "joined": self.joined}
        if self.token.expires_at:
            result["expires_at"] = self.token.expires_at.isoformat()
        result["permissions"] = list(self.token.permissions or [])
        if self.fetch is not None:
            result.update(gained=self.fetch.gained, lost=self.fetch.lost, fetch_id=self.fetch.pk)
        if self.diagnosis is not None:
            result["diagnosis"] = self.diagnosis.to_dict()
        return result


def permissions_page_url(connection: Connection) -> str | None:
    """The app's API permissions page from ``APP_PERMISSIONS_URL_TEMPLATE`` (``{client_id}`` and
    ``{tenant}`` filled in), for a connection that signs in outside Microsoft's clouds; None: the
    Azure portal of the connection's cloud."""
    template = getattr(settings, "APP_PERMISSIONS_URL_TEMPLATE", "") or ""
    login = urlsplit(connection.token_url).netloc
    if not template or not login or tokenclient.is_microsoft_login_host(login):
        return None
    return template.replace("{client_id}", quote(connection.client_id, safe="")).replace(
        "{tenant}", quote(connection.tenant, safe="")
    )


def context_for(connection: Connection) -> diagnoses.Context:
    """What diagnostics may know about a connection (never its secret)."""
    secret = connection.client_secret
    readable = isinstance(secret, str)
    login = urlsplit(connection.token_url)
    return diagnoses.Context(
        connection_name=connection.name,
        tenant=connection.tenant,
        client_id=connection.client_id,
        entity_path=connection.entity,
        login_host=login.netloc or clouds.DEFAULT_CLOUD.login_host,
        grant_type=connection.grant_type,
        redirect_uri=connection.redirect_url or None,
        secret_looks_like_guid=readable and diagnoses.looks_like_guid(secret),
        scope_or_resource=(connection.resource if connection.token_version == "v1" else connection.scope) or None,
        endpoint_version=connection.token_version,
        graph_service_url=connection.service_url,
        secret_expires_on=connection.secret_expires_on,
        permissions_page_url=permissions_page_url(connection),
        odata_select=connection.odata_select,
        certificate_thumbprint=_certificate_thumbprint(connection),
    )


def _certificate_thumbprint(connection: Connection) -> str | None:
    cert = credentials.certificate_of(connection) if connection.uses_certificate else None
    return cert.thumbprint_sha1 if cert else None


def token_row(connection: Connection) -> ConnectionToken:
    row, _ = ConnectionToken.objects.get_or_create(connection=connection)
    return row


def discard_saved_token(connection: Connection) -> None:
    """Forget the saved access token after the way of signing in changed (a new secret or
    certificate, another tenant, client ID, endpoint or scope): the next test and sync then prove
    the new credential instead of reusing a token the old one obtained. A delegated connection
    keeps its refresh token, which the next fetch redeems with the new credential."""
    ConnectionToken.objects.filter(connection=connection).update(
        state=ConnectionToken.State.NONE, access_token="", expires_at=None
    )


def ensure_token(
    connection: Connection, *, reason: str = TokenFetch.Reason.FETCH, job_id: str | None = None, user: Any = None
) -> Outcome:
    """A usable token: the stored one if it is good for 5 more minutes, else a fresh one."""
    return fetch_token(connection, force=False, reason=reason, job_id=job_id, user=user)


def refused_since_fetched(connection: Connection) -> bool:
    """Graph refused the saved token (401/403, not yet resolved) after it was fetched: a person who
    then presses Get access token has granted more and wants a token that carries it."""
    row = ConnectionToken.objects.filter(connection=connection).only("fetched_at").first()
    if row is None or row.fetched_at is None:
        return False
    return GraphRefusal.objects.filter(
        connection=connection, status__in=(401, 403), resolved=False, refused_at__gte=row.fetched_at
    ).exists()


def fetch_token(
    connection: Connection,
    *,
    force: bool,
    reason: str = TokenFetch.Reason.FETCH,
    job_id: str | None = None,
    user: Any = None,
    wait: float = WAIT_SECONDS,
) -> Outcome:
    """Get a token for ``connection``; ``force`` ignores a cached one (Re-fetch token).

    At most one request per connection is in flight: a caller that cannot claim the row waits
    until the holder finishes and takes its result (a force request is satisfied by any fetch
    that finished after it was asked).
    """
    asked_at = timezone.now()
    row = token_row(connection)
    deadline = time.monotonic() + wait
    owner = job_id or f"call-{uuid.uuid4()}"  # unique per caller, also across threads
    while True:
        row.refresh_from_db()
        settled = _settled(row, force, asked_at)
        if settled is not None:
            return settled
        if _claim(row, owner):
            # Another fetch may have finished between the look above and the claim.
            row.refresh_from_db()
            settled = _settled(row, force, asked_at)
            if settled is None:
                break
            _release(row, owner)
            return settled
        if time.monotonic() > deadline:
            return Outcome(False, row, diagnosis=diagnoses.token_endpoint.busy(connection.name))
        time.sleep(0.1)
    try:
        return _fetch(connection, row, reason, job_id, user)
    finally:
        _release(row, owner)


def _settled(row: ConnectionToken, force: bool, asked_at: Any) -> Outcome | None:
    """An answer that needs no request: the saved token, or a fetch that finished after asking."""
    if not force and row.valid_for(REUSE_SECONDS):
        return Outcome(True, row, cached=True)
    if row.fetched_at and row.fetched_at >= asked_at:
        return _joined(row)
    return None


def _release(row: ConnectionToken, owner: str) -> None:
    ConnectionToken.objects.filter(pk=row.pk, claimed_by=owner[:64]).update(claimed_until=None, claimed_by="")


def _claim(row: ConnectionToken, owner: str) -> bool:
    now = timezone.now()
    return bool(
        ConnectionToken.objects.filter(pk=row.pk)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + timedelta(seconds=CLAIM_SECONDS), claimed_by=owner[:64])
    )


def _joined(row: ConnectionToken) -> Outcome:
    fetch = TokenFetch.objects.filter(connection_id=row.pk).first()
    if row.state == ConnectionToken.State.VALID:
        return Outcome(True, row, fetch=fetch, joined=True)
    diagnosis = diagnoses.Diagnosis.from_dict(row.error) if row.error else None
    return Outcome(False, row, fetch=fetch, diagnosis=diagnosis, joined=True)


@sensitive_variables()  # the debug 500 page must not show secrets or tokens
def token_request(connection: Connection, grant_type: str, **grant: str) -> tokenclient.TokenRequest:
    """The token request for ``connection``: v1 sends ``resource``, v2 ``scope``.

    Raises UndecryptableSecret when the saved client secret cannot be decrypted.
    """
    v1 = connection.token_version == Connection.TokenVersion.V1
    assertion = credentials.assertion_for(connection) if connection.uses_certificate else None
    return tokenclient.TokenRequest(
        token_url=connection.token_url,
        client_id=connection.client_id,
        client_secret=None if assertion else (plaintext(connection.client_secret) or None),
        client_assertion=assertion,
        grant_type=grant_type,
        scope=None if v1 else (connection.scope or None),
        resource=(connection.resource or None) if v1 else None,
        **grant,
    )


@sensitive_variables()  # the debug 500 page must not show secrets or tokens
def _request_for(connection: Connection, row: ConnectionToken) -> tokenclient.TokenRequest:
    if connection.is_delegated:
        refresh = plaintext(row.refresh_token)
        if not refresh:
            raise SignInRequired()
        return token_request(connection, "refresh_token", refresh_token=refresh)
    return token_request(connection, "client_credentials")


class SignInRequired(Exception):
    """A delegated connection without a refresh token: a person must sign in."""


def _fetch(connection: Connection, row: ConnectionToken, reason: str, job_id: str | None, user: Any) -> Outcome:
    fetch = TokenFetch.objects.create(connection=connection, job_id=job_id, reason=reason)
    ctx = context_for(connection)
    try:
        result = tokenclient.request_token(_request_for(connection, row), outbound_policy())
    except tokenclient.TokenError as err:
        diagnosis = diagnoses.diagnose_token_error(err, ctx)
        # A refused refresh token (expired, revoked, unknown) can only be replaced by a new sign-in.
        sign_in = connection.is_delegated and (diagnosis.key in _SIGN_IN_KEYS or err.error == "invalid_grant")
        return record_failure(connection, row, fetch, diagnosis, user, sign_in=sign_in, request_id=err.trace_id or "")
    except SignInRequired:
        diagnosis = diagnoses.token_endpoint.sign_in_required(connection.name, connection.grant_type)
        return record_failure(connection, row, fetch, diagnosis, user, sign_in=True)
    except UndecryptableSecret as exc:
        return record_failure(connection, row, fetch, unreadable_diagnosis(connection, str(exc)), user)
    except credentials.CertificateMissing:
        return record_failure(connection, row, fetch, diagnoses.credentials.certificate_missing(connection.name), user)
    return store_result(connection, row, fetch, result, reason, user)


_SIGN_IN_KEYS = {"token.sign_in_again", "token.consent_required"}  # diagnostics' keys


def store_result(
    connection: Connection,
    row: ConnectionToken,
    fetch: TokenFetch,
    result: tokenclient.TokenResult,
    reason: str,
    user: Any,
) -> Outcome:
    """Save a new token (encrypted), its display claims, and what its permissions gained or lost."""
    decoded = claims.decode(result.access_token)
    permissions = sorted(claims.permissions(decoded))
    previous = TokenFetch.objects.filter(connection=connection, ok=True).exclude(pk=fetch.pk).first()
    gained, lost = claims.diff(previous.permissions if previous else [], permissions)
    now = timezone.now()
    row.state = ConnectionToken.State.VALID
    row.access_token = result.access_token
    if result.refresh_token:
        row.refresh_token = result.refresh_token  # refresh tokens rotate; keep the newest
    row.token_type = result.token_type
    row.kind = decoded.grant_kind or ("delegated" if connection.is_delegated else "app")
    row.issued_at = decoded.issued_at or result.issued_at
    row.expires_at = result.expires_at
    row.fetched_at = now
    row.scope = result.scope or ""
    row.claims = display_claims(decoded)
    row.permissions = permissions
    row.request_id = result.request_id or ""
    row.error, row.error_at = {}, None
    # Never the claim columns: they belong to the caller holding the claim (see fetch_token).
    row.save(
        update_fields=[
            "state",
            "access_token",
            "refresh_token",
            "token_type",
            "kind",
            "issued_at",
            "expires_at",
            "fetched_at",
            "scope",
            "claims",
            "permissions",
            "request_id",
            "error",
            "error_at",
        ]
    )
    fetch.ok, fetch.finished_at = True, now
    fetch.permissions = permissions
    if previous:  # a first token gains nothing: there is nothing to compare it with
        fetch.gained, fetch.lost = sorted(gained), sorted(lost)
    fetch.expires_at, fetch.request_id = result.expires_at, result.request_id or ""
    fetch.save()
    detail = (
        "automatic refresh; " if reason == TokenFetch.Reason.REFRESH else ""
    ) + f"expires {result.expires_at:%Y-%m-%d %H:%M} UTC"
    if previous and (gained or lost):
        detail += "; " + "; ".join(
            filter(
                None,
                [
                    f"gained {', '.join(sorted(gained))}" if gained else "",
                    f"lost {', '.join(sorted(lost))}" if lost else "",
                ],
            )
        )
    audit.record(user, connection, AUDIT_ACTIONS.get(reason, "token_fetched"), detail=detail)
    log.info("token for connection %s fetched (%s), expires %s", connection.pk, reason, result.expires_at)
    alerts.observe(connection, alerts.TOKEN, ok=True)
    return Outcome(True, row, fetch=fetch)


def record_failure(
    connection: Connection,
    row: ConnectionToken,
    fetch: TokenFetch,
    diagnosis: diagnoses.Diagnosis,
    user: Any,
    *,
    sign_in: bool = False,
    request_id: str = "",
) -> Outcome:
    now = timezone.now()
    row.state = ConnectionToken.State.SIGN_IN if sign_in else ConnectionToken.State.ERROR
    row.error, row.error_at, row.fetched_at = diagnosis.to_dict(), now, now
    row.save(update_fields=["state", "error", "error_at", "fetched_at"])
    fetch.finished_at, fetch.diagnosis, fetch.request_id = now, diagnosis.to_dict(), request_id[:64]
    fetch.save(update_fields=["finished_at", "diagnosis", "request_id"])
    audit.record(
        user, connection, AUDIT_ACTIONS.get(fetch.reason, "token_fetched"), detail=f"failed: {diagnosis.title}"
    )
    log.info("token for connection %s failed: %s", connection.pk, diagnosis.key)
    alerts.observe(connection, alerts.TOKEN, ok=False, detail=diagnosis.title)
    return Outcome(False, row, fetch=fetch, diagnosis=diagnosis)


def display_claims(decoded: claims.Claims) -> dict[str, Any]:
    """The claims the token page shows, JSON-ready (decoded for display, never trusted)."""
    if not decoded.readable:
        return {"readable": False, "problem": decoded.problem}

    def iso(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "readable": True,
        "audience": decoded.audience,
        "issuer": decoded.issuer,
        "tenant_id": decoded.tenant_id,
        "app_id": decoded.app_id,
        "app_display_name": decoded.app_display_name,
        "object_id": decoded.object_id,
        "issued_at": iso(decoded.issued_at),
        "not_before": iso(decoded.not_before),
        "expires_at": iso(decoded.expires_at),
        "version": decoded.version,
        "kind": decoded.grant_kind,
        "roles": list(decoded.roles),
        "scopes": list(decoded.scopes),
        "upn": decoded.upn,
        "name": decoded.name,
    }


def unreadable_diagnosis(connection: Connection, message: str) -> diagnoses.Diagnosis:
    """``message``: the UndecryptableSecret's, which names the field that cannot be decrypted."""
    where = message.split(" cannot ")[0]
    if "ConnectionCertificate" in message:
        return diagnoses.credentials.certificate_key_unreadable(where)
    return diagnoses.credentials.secret_unreadable(where)


def due_for_refresh(within: timedelta = timedelta(seconds=REUSE_SECONDS)):
    """Tokens that expire within ``within`` and can be renewed without a person."""
    horizon = timezone.now() + within
    return (
        ConnectionToken.objects.filter(state=ConnectionToken.State.VALID, expires_at__lte=horizon)
        .filter(Q(connection__grant_type=Connection.GrantType.CLIENT_CREDENTIALS) | ~Q(refresh_token=""))
        .select_related("connection")
    )
