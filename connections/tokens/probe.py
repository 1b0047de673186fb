"""Test connection: get a token, read one item of the entity, and explain any refusal.

Also keeps the last Graph refusal on the token row, so that after **Re-fetch token** the page
can say which missing permission the new token gained — or that the grant has not reached new
tokens yet.
"""
from __future__ import annotations

import time
from typing import Any

from django.utils import timezone

from connections.alerts import states as alerts
from connections.tokens import appinfo, fetch as tokens
from connections.library import audit
from microsoft import catalogue, diagnoses as diagnostics, graphclient, outbound
from connections.credentials import expiry as credentials
from connections.encryption.keys import UndecryptableSecret
from connections.encryption.fields import plaintext
from connections.models import Connection, ConnectionToken, TokenFetch
from connections.policy import outbound_policy


def test_connection(connection: Connection, *, job_id: str | None = None, user: Any = None) -> dict[str, Any]:
    """Token + ``GET {entity}?$top=1`` + the first item by the item URL convention."""
    started = time.monotonic()
    outcome = tokens.ensure_token(connection, reason=TokenFetch.Reason.TEST, job_id=job_id, user=user)
    if not outcome.ok:
        return _result(False, "token", started, diagnosis=outcome.diagnosis)
    refetched = False
    policy = outbound_policy()
    url = graphclient.collection_url(connection.service_url, connection.entity)
    params = graphclient.query_params(connection.odata_select, connection.odata_filter, top=1)
    try:
        response = graphclient.get(url, plaintext(outcome.token.access_token), policy=policy, params=params)
        if response.status == 401 and response.error_code == "InvalidAuthenticationToken":
            # The saved token was refused (expired or revoked): re-fetch once, then try again.
            outcome = tokens.fetch_token(connection, force=True, reason=TokenFetch.Reason.EXPIRED,
                                         job_id=job_id, user=user)
            if not outcome.ok:
                return _result(False, "token", started, diagnosis=outcome.diagnosis)
            refetched = True
            response = graphclient.get(url, plaintext(outcome.token.access_token), policy=policy, params=params)
        row = outcome.token
        if not response.ok:
            diagnosis = record_graph_refusal(connection, row, response)
            audit.record(user, connection, "tested", detail=f"failed: {diagnosis.title}")
            return _result(False, "graph", started, diagnosis=diagnosis, status=response.status,
                           request_id=response.request_id, refetched=refetched)
        items = response.body.get("value") if isinstance(response.body, dict) else None
        if items is not None and not isinstance(items, list):
            items = []  # an odd answer ("value" that is not a list) has no first item to show
        items = [item for item in items if isinstance(item, dict)] if items is not None else None
        sample = items[0] if items else (response.body if isinstance(response.body, dict) and items is None else None)
        item_status = _read_first_item(connection, row, items, policy)
    except outbound.OutboundError as err:
        diagnosis = diagnostics.diagnose_transport_error(err, tokens.context_for(connection))
        return _result(False, "graph", started, diagnosis=diagnosis)
    except UndecryptableSecret as exc:  # the saved token or secret: nothing more was sent
        return _result(False, "token", started, diagnosis=tokens.unreadable_diagnosis(connection, str(exc)))
    clear_graph_refusal(row)
    refresh_app_facts(connection, row)
    audit.record(user, connection, "tested", detail=f"read {connection.entity}: HTTP {response.status}")
    return _result(True, "done", started, status=response.status, request_id=response.request_id,
                   sample=_summary(sample), item_status=item_status, refetched=refetched,
                   permissions=row.permissions)


def _read_first_item(connection: Connection, row: ConnectionToken, items: list | None,
                     policy: outbound.OutboundPolicy) -> int | None:
    """GET the first item again through the profile's item URL convention; its HTTP status."""
    if not items:
        return None
    entity = catalogue.lookup(connection.entity)
    key = items[0].get(entity.key if entity else "id")
    if not key:
        return None
    url = graphclient.item_url(connection.service_url, connection.item_url, connection.entity, key)
    return graphclient.get(url, plaintext(row.access_token), policy=policy).status


def _result(ok: bool, stage: str, started: float, *, diagnosis: diagnostics.Diagnosis | None = None,
            **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"ok": ok, "stage": stage, "elapsed_ms": int((time.monotonic() - started) * 1000)}
    if diagnosis is not None:
        result["diagnosis"] = diagnosis.to_dict()
    result.update({k: v for k, v in extra.items() if v is not None})
    return result


def _summary(item: Any) -> dict[str, Any] | None:
    """A few recognisable, non-secret fields of the item read."""
    if not isinstance(item, dict):
        return None
    keys = ("id", "displayName", "userPrincipalName", "mail", "appId", "deviceId", "name")
    return {k: item[k] for k in keys if item.get(k) is not None} or {"fields": sorted(item)[:8]}


def record_graph_refusal(connection: Connection, row: ConnectionToken,
                         response: graphclient.GraphResponse) -> diagnostics.Diagnosis:
    """Diagnose a failed Graph response and keep it on the token row for the page and re-fetch."""
    granted = refresh_app_facts(connection, row).granted if response.status == 403 else None
    body = response.body if isinstance(response.body, dict) else None
    diagnosis = diagnostics.diagnose_graph_error(
        response.status, body, response.headers, tokens.context_for(connection),
        frozenset(row.permissions or []), row.kind or "app", previous=None, granted=granted)
    row.graph_error = {
        "diagnosis": diagnosis.to_dict(), "status": response.status, "body": body,
        "headers": {k: v for k, v in response.headers.items() if k in ("request-id", "client-request-id", "date")},
        "token_permissions": list(row.permissions or []), "token_kind": row.kind or "app",
        "entity": connection.entity, "granted": sorted(granted) if granted is not None else None,
    }
    row.graph_error_at = timezone.now()
    row.save(update_fields=["graph_error", "graph_error_at"])
    return diagnosis


def clear_graph_refusal(row: ConnectionToken) -> None:
    if row.graph_error:
        row.graph_error, row.graph_error_at = {}, None
        row.save(update_fields=["graph_error", "graph_error_at"])


def reassess_after_refetch(connection: Connection, row: ConnectionToken) -> diagnostics.Diagnosis | None:
    """After a re-fetch, say whether the new token now carries what Graph refused for.

    Gained: an info note to run the read again. Still missing: the diagnosis with the previous
    attempt, which says the grant has not reached new tokens yet instead of repeating itself.
    """
    stored = row.graph_error
    if not stored or stored.get("status") not in (401, 403) or stored.get("resolved"):
        return None
    before = diagnostics.Diagnosis.from_dict(stored["diagnosis"])
    entity = catalogue.resolve(stored.get("entity") or connection.entity)
    permissions = frozenset(row.permissions or [])
    rule = entity.rule(row.kind or "app", connection.odata_select) if entity is not None else None
    if entity is not None and rule is not None and rule.satisfied_by(permissions):
        present = ", ".join(rule.present(permissions))
        after = diagnostics.graph.permission_now_in_token(entity.display_name, before.missing, present, permissions)
        row.graph_error = {**stored, "resolved": True, "diagnosis": after.to_dict()}
    else:
        # The caller has just refreshed row.granted (refresh_app_facts) for the new token.
        granted = frozenset(row.granted) if row.granted is not None else None
        previous = diagnostics.PreviousAttempt.of(before, stored.get("token_permissions") or [])
        after = diagnostics.diagnose_graph_error(
            stored["status"], stored.get("body"), stored.get("headers") or {}, tokens.context_for(connection),
            permissions, row.kind or "app", previous=previous, granted=granted)
        row.graph_error = {**stored, "diagnosis": after.to_dict(), "token_permissions": sorted(permissions),
                           "granted": row.granted}
    row.save(update_fields=["graph_error"])
    return after


def refresh_app_facts(connection: Connection, row: ConnectionToken) -> appinfo.AppFacts:
    """Ask Graph what is granted to the app and when its secret expires, and keep both.

    The grants are stored on the token row (None: the app may not read them), so the token
    panel can say "granted, but not in this token — re-fetch" without waiting for a 403; the
    profile's secret expiry follows Graph when Graph knows it (else the entered date stays).
    """
    try:
        facts = appinfo.read_app_facts(connection, plaintext(row.access_token), plaintext(connection.client_secret))
    except UndecryptableSecret:  # shown elsewhere as "re-enter the secret"; the last known grants stay
        return appinfo.AppFacts(None, None)
    row.granted = sorted(facts.granted) if facts.granted is not None else None
    row.granted_checked_at = timezone.now()
    row.save(update_fields=["granted", "granted_checked_at"])
    if facts.secret_expires_on and facts.secret_expires_on != connection.secret_expires_on:
        Connection.objects.filter(pk=connection.pk).update(secret_expires_on=facts.secret_expires_on)
        connection.secret_expires_on = facts.secret_expires_on
    if facts.credentials is not None:
        secret = connection.client_secret
        credentials.record(connection, facts.credentials, secret if isinstance(secret, str) else "")
        alerts.observe_expiry(connection)
    return facts
