"""Alerts: one per state change of a connection, never one per failed run.

Each connection has one ``AlertState`` per topic (sync, token, credential). ``observe`` records the
new state; only a change creates an ``Alert``, which a worker then sends to the team's channels
(delivery.py, channels.py). The first failure after success (or ever) alerts, the first success after a failure
says "recovered"; a credential alerts when it enters 30, 7 or 1 days before its end, when it
expires, and when it is renewed. Nothing here may break the sync or token fetch that calls it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from connections import credentials
from connections.alerts import delivery
from connections.library import deltawindow
from connections.models import Alert, AlertState, Connection

log = logging.getLogger(__name__)

SYNC, TOKEN, CREDENTIAL = "sync", "token", "credential"
DELTA = "delta"  # a scheduled connection's deltaLink is close to Graph's 7-day limit (library/deltawindow.py)
OK, FAILED = "ok", "failed"


@dataclass(frozen=True)
class Event:
    key: str
    label: str  # for the page listing sent alerts
    severity: str  # error, warning, info


EVENTS: dict[str, Event] = {
    e.key: e
    for e in (
        Event("sync_failed", "Sync failed", "error"),
        Event("sync_recovered", "Sync recovered", "info"),
        Event("token_failed", "Token fetch failed", "error"),
        Event("token_recovered", "Token fetch recovered", "info"),
        Event("credential_30", "Credential expires within 30 days", "warning"),
        Event("credential_7", "Credential expires within 7 days", "warning"),
        Event("credential_1", "Credential expires within a day", "error"),
        Event("credential_expired", "Credential expired", "error"),
        Event("credential_renewed", "Credential renewed", "info"),
        Event("delta_ageing", "Changes-only sync about to expire", "warning"),
        Event("delta_recovered", "Changes-only sync kept", "info"),
    )
}


def link_to(connection: Connection) -> str:
    return settings.PUBLIC_BASE_URL + reverse("connections:detail", args=[connection.pk])


def observe(connection: Connection, topic: str, *, ok: bool, detail: str = "") -> Alert | None:
    """A sync or token fetch finished; alert if that changed the topic's state."""
    what = "sync" if topic == SYNC else "token fetch"
    new = OK if ok else FAILED

    def texts(old: str) -> tuple[str, str, str] | None:
        if new == FAILED:
            return (
                f"{topic}_failed",
                f"{connection.name}: {what} failed",
                f"The {what} of {connection.name} (team {connection.team.name}) failed: {detail or 'see the page'}. "
                "Further failures are not alerted until it works again.",
            )
        if old == FAILED:
            return (
                f"{topic}_recovered",
                f"{connection.name}: {what} works again",
                f"The {what} of {connection.name} (team {connection.team.name}) succeeded again.",
            )
        return None

    return _transition(connection, topic, new, texts)


def observe_expiry(connection: Connection, today: dt.date | None = None) -> Alert | None:
    """The credential's days left were (re)computed; alert when its level changed."""
    expiry = credentials.expiry(connection, today)
    new = expiry.level or OK
    kind = "certificate" if connection.uses_certificate else "client secret"

    def texts(old: str) -> tuple[str, str, str] | None:
        when = f"{expiry.ends_on:%Y-%m-%d}, {expiry.source_words}" if expiry.ends_on else ""
        if new == OK:
            if old == OK:
                return None
            return (
                "credential_renewed",
                f"{connection.name}: {kind} renewed",
                f"The {kind} of {connection.name} (team {connection.team.name}) no longer expires soon"
                + (f" (now {when})." if when else "."),
            )
        if new == "expired":
            return (
                "credential_expired",
                f"{connection.name}: {kind} expired",
                f"The {kind} of {connection.name} (team {connection.team.name}) has expired ({when}). "
                f"Token requests fail until a new {kind} is created in Entra ID and saved here.",
            )
        return (
            f"credential_{new}",
            f"{connection.name}: {kind} {expiry.words}",
            f"The {kind} of {connection.name} (team {connection.team.name}) expires in "
            f"{expiry.days} day{'s' if expiry.days != 1 else ''} ({when}). Create a new {kind} in Entra ID "
            "and save it with the connection before then.",
        )

    return _transition(connection, CREDENTIAL, new, texts)


def observe_delta(connection: Connection, now: dt.datetime | None = None) -> Alert | None:
    """Alert when a scheduled connection's newest deltaLink nears Graph's 7-day limit, and once
    more when a newer successful run (with a fresh deltaLink) exists."""
    schedule = deltawindow.schedules_of([connection.pk]).get(connection.pk)
    new = "ageing" if deltawindow.stale(connection, schedule, getattr(schedule, "last_delta_at", None), now) else OK

    def texts(old: str) -> tuple[str, str, str] | None:
        if new != OK:
            return (
                "delta_ageing",
                f"{connection.name}: changes-only sync about to expire",
                f"The last successful sync of {connection.name} (team {connection.team.name}) that can be "
                "continued with changes only is more than 6 days old, and Microsoft Graph forgets it after "
                "about 7 days. The next scheduled run will do a full read; make sure the schedule runs at "
                "least weekly.",
            )
        if old == OK:
            return None
        return (
            "delta_recovered",
            f"{connection.name}: changes-only sync kept",
            f"A newer sync of {connection.name} (team {connection.team.name}) succeeded, so the next "
            "scheduled run can read changes only again.",
        )

    return _transition(connection, DELTA, new, texts)


def _transition(
    connection: Connection, topic: str, new: str, texts: Callable[[str], tuple[str, str, str] | None]
) -> Alert | None:
    """Move the topic to ``new``; create (and queue) an alert when that is a change worth one.

    The conditional UPDATE makes the change happen once even when two workers see it at once.
    """
    try:
        with transaction.atomic():
            row, created = AlertState.objects.get_or_create(connection=connection, topic=topic, defaults={"state": new})
            old = OK if created else row.state
            if not created:
                if old == new:
                    return None
                if not AlertState.objects.filter(pk=row.pk, state=old).update(state=new, changed_at=timezone.now()):
                    return None  # another process recorded this change (and its alert)
            made = texts(old)  # None when the change is not worth telling (e.g. a first success)
            if made is None:
                return None
            event, title, text = made
            link = link_to(connection)
            alert = Alert.objects.create(
                team_id=connection.team_id,
                connection=connection,
                event=event,
                title=title[:300],
                text=f"{text}\n\nOpen the connection: {link}",
                link=link,
            )
            delivery.queue(alert)
        log.info("alert %s for connection %s: %s", alert.pk, connection.pk, event)
        return alert
    except Exception:  # an alert must never break the sync or token fetch that noticed the change
        log.exception("alert state of connection %s (%s) could not be recorded", connection.pk, topic)
        return None
