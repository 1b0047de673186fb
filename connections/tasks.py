"""Celery tasks: thin wrappers that load by id and call a service module."""
from __future__ import annotations

import os
import socket

from celery import shared_task


@shared_task(bind=True, name="connections.ping")
def ping(self, job_id: str) -> dict:
    """Proves a worker process is consuming the queue (used by tests and the health page)."""
    return {"hostname": socket.gethostname(), "pid": os.getpid(), "job_id": job_id}
