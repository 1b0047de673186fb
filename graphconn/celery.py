"""The Celery application; configuration comes from Django settings (``CELERY_*``)."""

from __future__ import annotations

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

# The embedded default's broker: kombu's filesystem transport, each message written whole first.
TRANSPORT_ALIASES["filesystem"] = "graphconn.brokers:Transport"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "graphconn.settings")

app = Celery("graphconn")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
