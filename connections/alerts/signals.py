"""A starting worker sends the alerts that waited for the broker, without waiting for beat."""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery.signals import worker_ready
from django.db import close_old_connections

from connections.alerts import delivery

log = logging.getLogger(__name__)


def _send_waiting() -> None:
    try:
        close_old_connections()
        delivery.resend_waiting()
    except Exception:
        log.warning("waiting alerts could not be sent at start-up; beat will try again", exc_info=True)
    finally:
        close_old_connections()


@worker_ready.connect
def _on_worker_ready(sender: Any = None, **kwargs: Any) -> None:
    threading.Thread(target=_send_waiting, name="graphconn-waiting-alerts", daemon=True).start()
