"""What the app may learn about itself from Graph: granted app roles and its secrets' expiry.

Both reads need the app to be allowed to read its own objects (Application.Read.All or
Directory.Read.All); without that they return None (the credentials read says why) and the pages
say so — never an error.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from connections import alerts, credentials
from connections.credentials import CredentialsRead
from connections.encryption.fields import plaintext
from connections.encryption.keys import UndecryptableSecret
from connections.models import Connection, ConnectionToken
from connections.policy import outbound_policy
from microsoft import catalogue, graphclient, outbound


@dataclass(frozen=True)
class AppFacts:
    granted: frozenset[str] | None  # Graph application permissions with admin consent
    secret_expires_on: datetime.date | None  # of the secret the profile holds, when recognisable
    credentials: CredentialsRead | None = None  # every secret and certificate of the app, or why not


def read_app_facts(connection: Connection, access_token: str, secret: str) -> AppFacts:
    policy = outbound_policy()
    read = read_credentials(connection, access_token, policy)
    expires = None if connection.uses_certificate else _secret_expiry(read, secret)
    return AppFacts(_granted(connection, access_token, policy), expires, read)


def _granted(connection: Connection, token: str, policy: outbound.OutboundPolicy) -> frozenset[str] | None:
    url = graphclient.collection_url(
        connection.service_url, f"servicePrincipals(appId='{connection.client_id}')/appRoleAssignments"
    )
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
        response = graphclient.get(url, token, policy=policy, params={"$select": "passwordCredentials,keyCredentials"})
    except outbound.OutboundError as error:
        return CredentialsRead(problem=f"Graph could not be reached: {error.message}")
    if response.status in (401, 403):
        return CredentialsRead(
            problem=(
                "The app may not read its own registration: grant it the "
                "application permission Application.Read.All (or Application.ReadWrite.OwnedBy and add the app "
                "as an owner of itself), then re-fetch the token."
            )
        )
    if response.status == 404:
        return CredentialsRead(problem="Graph did not find this app registration in the tenant.")
    if not response.ok or not isinstance(response.body, dict):
        return CredentialsRead(problem=f"Graph answered HTTP {response.status} when asked for the app's credentials.")
    secrets = [c for c in response.body.get("passwordCredentials") or [] if isinstance(c, dict)]
    keys = [c for c in response.body.get("keyCredentials") or [] if isinstance(c, dict)]
    return CredentialsRead(secrets=secrets, certificates=keys)


def _secret_expiry(read: CredentialsRead, secret: str) -> datetime.date | None:
    ends = [str(c["endDateTime"]) for c in read.held_secrets(secret) if c.get("endDateTime")]
    if not ends:
        return None
    try:
        return min(datetime.datetime.fromisoformat(e.replace("Z", "+00:00")) for e in ends).date()
    except ValueError:
        return None


def refresh_app_facts(connection: Connection, row: ConnectionToken) -> AppFacts:
    """Ask Graph what is granted to the app and when its secret expires, and keep both.

    The grants are stored on the token row (None: the app may not read them), so the token
    panel can say "granted, but not in this token — re-fetch" without waiting for a 403; the
    profile's secret expiry follows Graph when Graph knows it (else the entered date stays).
    """
    try:
        facts = read_app_facts(connection, plaintext(row.access_token), plaintext(connection.client_secret))
    except UndecryptableSecret:  # shown elsewhere as "re-enter the secret"; the last known grants stay
        return AppFacts(None, None)
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
