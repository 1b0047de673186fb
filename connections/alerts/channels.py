"""Sending alerts to a team's channels: email (Django's email backend) and webhooks.

Webhooks are plain JSON POSTs through ``outbound.request`` — the same door as every Graph call,
so a channel can only reach a host listed in ALERT_WEBHOOK_HOSTS (Teams channels also
ALERT_TEAMS_WEBHOOK_HOSTS), over verified TLS, with
redirects re-checked. (apprise would cover these services too, but makes its own HTTP calls
around those rules.) A channel that fails is marked failing; the failure is never raised.

Payloads: Slack incoming webhooks take ``{"text": …}``
(https://api.slack.com/messaging/webhooks); Teams incoming webhooks and Workflows take a message
with an Adaptive Card attachment
(https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using);
the generic webhook gets the alert's fields as JSON.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connections.encryption.fields import plaintext
from connections.models import Alert, AlertDelivery, NotificationChannel
from microsoft import outbound

log = logging.getLogger(__name__)


def allowed_hosts(kind: str) -> list[str]:
    """ALERT_WEBHOOK_HOSTS, and for a Teams channel also ALERT_TEAMS_WEBHOOK_HOSTS."""
    hosts = list(getattr(settings, "ALERT_WEBHOOK_HOSTS", ()) or ())
    if kind == NotificationChannel.Kind.TEAMS:
        hosts += list(getattr(settings, "ALERT_TEAMS_WEBHOOK_HOSTS", ()) or ())
    return hosts


def policy(kind: str = "") -> outbound.OutboundPolicy:
    """Where a ``kind`` of webhook may go (``allowed_hosts``), with the configured CA and timeout."""
    return outbound.OutboundPolicy(
        allowed_hosts=frozenset(allowed_hosts(kind)),
        ca_bundle=getattr(settings, "GRAPH_CA_BUNDLE", None) or None,
        timeout=min(float(getattr(settings, "GRAPH_HTTP_TIMEOUT", 10.0)), 10.0),
        retries=1,
    )


@sensitive_variables()  # a webhook URL is a secret
def check_webhook_url(url: str, kind: str = "") -> str:
    """The URL's host label when a ``kind`` of webhook may be sent there; ``DisallowedURL`` (plain
    words, with the setting to change) otherwise."""
    try:
        outbound.check_url(url, policy(kind))
    except outbound.DisallowedURL as error:
        setting = (
            "ALERT_WEBHOOK_HOSTS or ALERT_TEAMS_WEBHOOK_HOSTS"
            if kind == NotificationChannel.Kind.TEAMS
            else "ALERT_WEBHOOK_HOSTS"
        )
        message = error.message.replace("GRAPH_ALLOWED_HOSTS", setting)
        if message.endswith(f"is not in {setting}."):
            message = message[:-1] + f": an administrator adds the host to {setting} (comma-separated) and restarts."
        raise outbound.DisallowedURL(message) from None
    return outbound.safe_url(url).split("/")[2]


@dataclass(frozen=True)
class Message:
    event: str
    title: str
    text: str
    link: str
    connection: str = ""
    team: str = ""

    @classmethod
    def of(cls, alert: Alert) -> Message:
        return cls(
            alert.event,
            alert.title,
            alert.text,
            alert.link,
            alert.connection.name if alert.connection else "",
            alert.team.name,
        )


def test_message(channel: NotificationChannel) -> Message:
    link = settings.PUBLIC_BASE_URL + "/"
    return Message(
        "test",
        "graphconn: test alert",
        f"This is a test alert for channel {channel.name} of team {channel.team.name}. "
        f"Alerts about the team's connections will arrive here.\n\nOpen graphconn: {link}",
        link,
        "",
        channel.team.name,
    )


def payload(kind: str, message: Message) -> dict[str, Any]:
    if kind == NotificationChannel.Kind.SLACK:
        return {"text": f"*{message.title}*\n{message.text}"}
    if kind == NotificationChannel.Kind.TEAMS:
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": message.title, "wrap": True},
                {"type": "TextBlock", "text": message.text, "wrap": True},
            ],
            "actions": [{"type": "Action.OpenUrl", "title": "Open in graphconn", "url": message.link}],
        }
        return {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
            ],
        }
    return {
        "event": message.event,
        "title": message.title,
        "text": message.text,
        "link": message.link,
        "connection": message.connection,
        "team": message.team,
        "sent_at": timezone.now().isoformat(),
    }


@sensitive_variables()  # the webhook URL is a secret
def send(channel: NotificationChannel, message: Message) -> str:
    """Send one message; "" when it arrived, else a plain-word reason (never the URL)."""
    try:
        if channel.kind == NotificationChannel.Kind.EMAIL:
            recipients = [a.strip() for a in channel.emails.split(",") if a.strip()]
            send_mail(message.title, message.text, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
            return ""
        url = plaintext(channel.url)
        response = outbound.request(
            "POST",
            url,
            policy=policy(channel.kind),
            data=json.dumps(payload(channel.kind, message)),
            headers={"Content-Type": "application/json"},
            retry=False,
        )
        if 200 <= response.status_code < 300:
            return ""
        return f"{channel.host} answered HTTP {response.status_code}."
    except outbound.OutboundError as error:
        return error.message
    except Exception as error:  # SMTP refusals, an unreadable URL, anything: the channel fails, nothing else
        log.warning("alert channel %s failed: %s", channel.pk, type(error).__name__)
        return f"Sending failed ({type(error).__name__})."


def record_result(channel: NotificationChannel, problem: str) -> None:
    NotificationChannel.objects.filter(pk=channel.pk).update(
        status=NotificationChannel.Status.FAILING if problem else NotificationChannel.Status.OK,
        last_error=problem[:500],
        last_attempt_at=timezone.now(),
    )
    channel.status = NotificationChannel.Status.FAILING if problem else NotificationChannel.Status.OK
    channel.last_error = problem[:500]


def deliver(alert: Alert) -> dict[str, int]:
    """Send ``alert`` to every enabled channel of its team, once each (a re-delivered task skips
    channels that already got it)."""
    message = Message.of(alert)
    done = set(AlertDelivery.objects.filter(alert=alert, ok=True).values_list("channel_id", flat=True))
    sent = failed = 0
    for channel in NotificationChannel.objects.filter(team_id=alert.team_id, enabled=True).exclude(pk__in=done):
        problem = send(channel, message)
        AlertDelivery.objects.create(alert=alert, channel=channel, ok=not problem, error=problem[:500])
        record_result(channel, problem)
        if problem:
            failed += 1
            log.info("alert %s to channel %s failed: %s", alert.pk, channel.pk, problem)
        else:
            sent += 1
    return {"sent": sent, "failed": failed}
