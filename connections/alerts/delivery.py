"""Handing an alert to the worker that sends it to the team's channels.

The same way jobs are handed over (connections/jobs/queue.py): the alert row is recorded first,
the task is sent *by name* through the broker once the transaction commits — so the process that
raises the alert (a web request, a worker, beat) needs no task registered — and an alert the
broker never took is sent again by beat (and by each worker on start-up) when it is back.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from connections.models import Alert

log = logging.getLogger(__name__)

DELIVER_TASK = "connections.deliver_alert"  # the Celery task that sends one alert to its channels
RESEND_TASK = "connections.resend_waiting_alerts"  # beat: sends the alerts the broker never took
RESEND_AFTER = timedelta(seconds=60)  # an alert still unsent this long after its commit is sent again


def queue(alert: Alert) -> None:
    """Send ``alert`` to a worker once the surrounding transaction commits (the worker must find it)."""
    transaction.on_commit(lambda: send(alert.pk))


def send(alert_id: int) -> bool:
    """Hand the alert to the broker once (no publish retries: a request waits at most about
    BROKER_TIMEOUT_SECONDS); on failure the alert stays recorded and ``resend_waiting`` sends it."""
    from graphconn.celery import app

    try:
        app.send_task(DELIVER_TASK, args=(alert_id,), retry=False)
    except Exception as error:  # any broker failure: the alert is recorded and will be sent again
        log.warning(
            "alert %s could not be sent to the broker (%s); it waits for the broker", alert_id, type(error).__name__
        )
        try:
            Alert.objects.filter(pk=alert_id, sent_at__isnull=True).update(send_failures=F("send_failures") + 1)
        except DatabaseError:
            log.warning("alert %s: its waiting state could not be written", alert_id, exc_info=True)
        return False
    Alert.objects.filter(pk=alert_id).update(sent_at=timezone.now())
    return True


def waiting() -> Q:
    """Alerts the broker never took: a send failed, or none was tried long after the commit
    (the process that raised it stopped in between)."""
    return Q(sent_at__isnull=True) & (Q(send_failures__gt=0) | Q(created_at__lt=timezone.now() - RESEND_AFTER))


def resend_waiting(limit: int = 500) -> dict[str, int]:
    """Send every alert the broker never took (oldest first); stop at the first failure, since the
    broker is still away then."""
    sent = 0
    for alert_id in Alert.objects.filter(waiting()).order_by("created_at").values_list("pk", flat=True)[:limit]:
        if not send(alert_id):
            break
        sent += 1
    return {"sent": sent}
