"""What the app may learn about itself from Graph: granted app roles and its secrets' expiry.

Both reads need the app to be allowed to read its own objects (Application.Read.All or
Directory.Read.All); without that they return None (the credentials read says why) and the pages
say so — never an error.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from microsoft import catalogue, graphclient, outbound
from connections.credentials.expiry import CredentialsRead
from connections.models import Connection
from connections.policy import outbound_policy


@dataclass(frozen=True)
class AppFacts:
    granted: frozenset[str] | None           # Graph application permissions with admin consent
    secret_expires_on: datetime.date | None  # of the secret the profile holds, when recognisable
    credentials: CredentialsRead | None = None  # every secret and certificate of the app, or why not


def read_app_facts(connection: Connection, access_token: str, secret: str) -> AppFacts:
    policy = outbound_policy()
    read = read_credentials(connection, access_token, policy)
    expires = None if connection.uses_certificate else _secret_expiry(read, secret)
    return AppFacts(_granted(connection, access_token, policy), expires, read)


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


def read_credentials(connection: Connection, token: str, policy: outbound.OutboundPolicy) -> CredentialsRead:
    """``GET /applications(appId='…')?$select=passwordCredentials,keyCredentials`` — needs
    Application.Read.All, or Application.ReadWrite.OwnedBy with the app as an owner of itself
    (https://learn.microsoft.com/graph/api/application-get)."""
    url = graphclient.collection_url(connection.service_url, f"applications(appId='{connection.client_id}')")
    try:
        response = graphclient.get(url, token, policy=policy,
                                   params={"$select": "passwordCredentials,keyCredentials"})
    except outbound.OutboundError as error:
        return CredentialsRead(problem=f"Graph could not be reached: {error.message}")
    if response.status in (401, 403):
        return CredentialsRead(problem=(
            "The app may not read its own registration: grant it the "
            "application permission Application.Read.All (or Application.ReadWrite.OwnedBy and add the app "
            "as an owner of itself), then re-fetch the token."))
    if response.status == 404:
        return CredentialsRead(problem="Graph did not find this app registration in the tenant.")
    if not response.ok or not isinstance(response.body, dict):
        return CredentialsRead(problem=f"Graph answered HTTP {response.status} when asked for the app's credentials.")
    secrets = [c for c in response.body.get("passwordCredentials") or [] if isinstance(c, dict)]
    keys = [c for c in response.body.get("keyCredentials") or [] if isinstance(c, dict)]
    return CredentialsRead(secrets=secrets, certificates=keys)


def _secret_expiry(read: CredentialsRead, secret: str) -> datetime.date | None:
    ends = [c.get("endDateTime") for c in read.held_secrets(secret) if c.get("endDateTime")]
    if not ends:
        return None
    try:
        return min(datetime.datetime.fromisoformat(e.replace("Z", "+00:00")) for e in ends).date()
    except ValueError:
        return None
