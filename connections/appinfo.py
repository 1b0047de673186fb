"""What the app may learn about itself from Graph: granted app roles and its secrets' expiry.

Both reads need the app to be allowed to read its own objects (Application.Read.All or
Directory.Read.All); without that they return None and the pages say so — never an error.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from . import catalogue, graphclient, outbound
from .models import Connection


@dataclass(frozen=True)
class AppFacts:
    granted: frozenset[str] | None           # Graph application permissions with admin consent
    secret_expires_on: datetime.date | None  # of the secret the profile holds, when recognisable


def read_app_facts(connection: Connection, access_token: str, secret: str) -> AppFacts:
    policy = outbound.policy_from_settings()
    return AppFacts(_granted(connection, access_token, policy), _secret_expiry(connection, access_token, secret, policy))


def _granted(connection: Connection, token: str, policy: outbound.OutboundPolicy) -> frozenset[str] | None:
    url = graphclient.collection_url(
        connection.service_url, f"servicePrincipals(appId='{connection.client_id}')/appRoleAssignments")
    try:
        response = graphclient.get(url, token, policy=policy)
    except outbound.OutboundError:
        return None
    if not response.ok or not isinstance(response.body, dict):
        return None
    return catalogue.granted_permissions(response.body.get("value") or [])


def _secret_expiry(connection: Connection, token: str, secret: str,
                   policy: outbound.OutboundPolicy) -> datetime.date | None:
    url = graphclient.collection_url(connection.service_url, f"applications(appId='{connection.client_id}')")
    try:
        response = graphclient.get(url, token, policy=policy, params={"$select": "passwordCredentials"})
    except outbound.OutboundError:
        return None
    if not response.ok or not isinstance(response.body, dict):
        return None
    credentials = response.body.get("passwordCredentials") or []
    # Graph shows the first three characters of each secret as its ``hint``.
    matching = [c for c in credentials if secret and c.get("hint") and secret.startswith(c["hint"])]
    chosen = matching if matching else (credentials if len(credentials) == 1 else [])
    ends = [c.get("endDateTime") for c in chosen if c.get("endDateTime")]
    if not ends:
        return None
    try:
        return min(datetime.datetime.fromisoformat(e.replace("Z", "+00:00")) for e in ends).date()
    except ValueError:
        return None
