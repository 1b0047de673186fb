"""Every read of team-owned data the API makes, scoped as the pages scope it: another team's
object is 404, a role too low for the action 403. The API reads through nothing else."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from connections.library import access
from connections.models import Connection, Job, Role, SyncRun

OPERATOR = Role.OPERATOR


def connections(request: HttpRequest) -> models.QuerySet[Connection]:
    """Every connection the person may see."""
    return Connection.objects.select_related("team").for_user(request)


def connection(request: HttpRequest, pk: Any, min_role: str | None = None) -> Connection:
    return access.get_connection_for_user(request, pk, min_role)


def run(request: HttpRequest, pk: Any, run_id: Any, min_role: str | None = None) -> SyncRun:
    found = access.get_for_user(
        SyncRun.objects.select_related("connection__team", "job", "started_by"),
        request,
        min_role,
        pk=run_id,
        connection_id=pk,
    )
    found.connection.can = found.can
    return found


def job(request: HttpRequest, pk: Any, job_id: Any) -> Job:
    """A job of a connection the person may see (404 otherwise)."""
    return Job.objects.select_related("connection").get_for_user(request, pk=job_id, connection_id=pk)


def teams(request: HttpRequest) -> list[Any]:
    """The person's teams, each with ``access_role``."""
    return access.teams_of(request)
