"""Test connection: get a token, read one item of the entity, and explain any refusal.

Reads through the connection's Graph session (``session``), which keeps the last refusal as the
connection's ``GraphRefusal`` — kept across **Re-fetch token**, so that the page can then say which
missing permission the new token gained, or that the grant has not reached new tokens yet.
"""

from __future__ import annotations

import time
from typing import Any

from connections.encryption.keys import UndecryptableSecret
from connections.library import audit
from connections.models import Connection, GraphRefusal, TokenFetch
from connections.tokens import appinfo
from connections.tokens.fetch import context_for, unreadable_diagnosis
from connections.tokens.session import GraphSession, TokenUnavailable
from microsoft import catalogue, diagnoses, graphclient, outbound


def test_connection(connection: Connection, *, job_id: str | None = None, user: Any = None) -> dict[str, Any]:
    """Token + ``GET {entity}?$top=1`` + the first item by the item URL convention."""
    started = time.monotonic()
    try:
        graph = GraphSession.open(
            connection, reason=TokenFetch.Reason.TEST, source=GraphRefusal.Source.TEST, job_id=job_id, user=user
        )
    except TokenUnavailable as unavailable:
        return _result(False, "token", started, diagnosis=unavailable.diagnosis)
    url = graphclient.collection_url(connection.service_url, connection.entity)
    params = graphclient.query_params(connection.odata_select, connection.odata_filter, top=1)
    try:
        response = graph.get(url, params=params)
        if not response.ok:
            diagnosis = graph.refuse(response)
            audit.record(user, connection, "tested", detail=f"failed: {diagnosis.title}")
            return _result(
                False,
                "graph",
                started,
                diagnosis=diagnosis,
                status=response.status,
                request_id=response.request_id,
                refetched=graph.refetched,
            )
        items = response.body.get("value") if isinstance(response.body, dict) else None
        if items is not None and not isinstance(items, list):
            items = []  # an odd answer ("value" that is not a list) has no first item to show
        items = [item for item in items if isinstance(item, dict)] if items is not None else None
        sample = items[0] if items else (response.body if isinstance(response.body, dict) and items is None else None)
        item_status = _read_first_item(connection, graph, items)
    except TokenUnavailable as unavailable:  # the re-fetch after Graph refused the token
        return _result(False, "token", started, diagnosis=unavailable.diagnosis)
    except outbound.OutboundError as err:
        diagnosis = diagnoses.diagnose_transport_error(err, context_for(connection))
        return _result(False, "graph", started, diagnosis=diagnosis)
    except UndecryptableSecret as exc:  # the saved token or secret: nothing more was sent
        return _result(False, "token", started, diagnosis=unreadable_diagnosis(connection, str(exc)))
    graph.succeeded()
    row = graph.token
    appinfo.refresh_app_facts(connection, row)
    audit.record(user, connection, "tested", detail=f"read {connection.entity}: HTTP {response.status}")
    return _result(
        True,
        "done",
        started,
        status=response.status,
        request_id=response.request_id,
        sample=_summary(sample),
        item_status=item_status,
        refetched=graph.refetched,
        permissions=row.permissions,
    )


def _read_first_item(connection: Connection, graph: GraphSession, items: list | None) -> int | None:
    """GET the first item again through the profile's item URL convention; its HTTP status."""
    if not items:
        return None
    entity = catalogue.lookup(connection.entity)
    key = items[0].get(entity.key if entity else "id")
    if not key:
        return None
    url = graphclient.item_url(connection.service_url, connection.item_url, connection.entity, key)
    return graph.get(url).status


def _result(
    ok: bool, stage: str, started: float, *, diagnosis: diagnoses.Diagnosis | None = None, **extra: Any
) -> dict[str, Any]:
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
