"""Turning connections, runs, jobs and credentials into the API's answers (``schemas``)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from connections import credentials
from connections.library import deltawindow
from connections.library.status import attach_last_syncs, fill_status, health, problems, with_status
from connections.models import AppCredential, Connection, ConnectionToken, CredentialCheck, Job, SyncRun, SyncSchedule

from . import schemas, services

SCHEDULE_JOINS = ("sync_schedule__periodic_task__interval", "sync_schedule__periodic_task__crontab")


def with_facts(queryset: models.QuerySet[Connection]) -> list[Connection]:
    """What the health board reads of each connection (status, certificate, schedule, the
    credential's end), read as the list page reads it."""
    found = with_status(queryset).select_related("certificate", "credential_check", *SCHEDULE_JOINS)
    found = found.annotate(
        in_use_end=credentials.in_use_end_subquery(), last_delta_at=deltawindow.last_delta_run_at("pk")
    )
    rows = attach_last_syncs(list(found.order_by("team__name", "name")))
    now = timezone.now()
    return [fill_status(row, now) for row in rows]


def team_slug(connection: Connection) -> str:
    return slugify(connection.team.name)


def _schedule(connection: Connection) -> SyncSchedule | None:
    try:
        return connection.sync_schedule
    except SyncSchedule.DoesNotExist:
        return None


def credential_state(connection: Connection, expiry: credentials.Expiry) -> schemas.CredentialState:
    return schemas.CredentialState(
        type="certificate" if connection.uses_certificate else "secret",
        ends_on=expiry.ends_on,
        days_left=expiry.days,
        level=expiry.level,
        source=expiry.source,
    )


def connection_out(row: Connection, role: str | None) -> schemas.ConnectionOut:
    """One connection as the health board shows it (``row`` read through ``with_facts``)."""
    schedule = _schedule(row)
    row.delta_stale = deltawindow.stale(row, schedule, getattr(row, "last_delta_at", None))
    expiry = credentials.expiry(row, timezone.localdate())
    row.expiry = expiry  # problems reads it rather than working it out again
    found = problems(row)
    last = getattr(row, "last_sync", None)
    last_run = None
    if last is not None:
        last_run = schemas.RunSummary(
            id=last.pk,
            status=str(row.last_sync_status),
            at=row.last_sync_at,
            rows=row.last_sync_rows,
        )
    return schemas.ConnectionOut(
        id=row.pk,
        name=row.name,
        team=team_slug(row),
        team_id=row.team_id,
        role=role,
        entity=row.entity,
        grant_type=row.grant_type,
        health=health(row, found, expiry).value,  # type: ignore[arg-type]
        token_state=str(getattr(row, "token_state", "none")),
        token_expires_at=getattr(row, "token_expires_at", None),
        credential=credential_state(row, expiry),
        last_run=last_run,
        next_run=services.next_run(row) if schedule is not None else None,
        problems=found,
    )


def _diagnosis(source: str, data: Any) -> schemas.DiagnosisOut | None:
    if not isinstance(data, dict) or not data.get("title"):
        return None
    steps = [
        schemas.Step(text=str(step.get("text") or ""), url=step.get("url") or None)
        for step in data.get("steps") or []
        if isinstance(step, dict)
    ]
    return schemas.DiagnosisOut(
        source=source,  # type: ignore[arg-type]
        key=str(data.get("key") or "unknown"),
        severity=str(data.get("severity") or "error"),
        title=str(data["title"]),
        explanation=str(data.get("explanation") or ""),
        steps=steps,
    )


def diagnoses_of(row: Connection) -> list[schemas.DiagnosisOut]:
    """The connection's diagnoses as the pages show them (token, Graph's refusal, the last failed
    run), then the health board's other problems in plain words."""
    found: list[schemas.DiagnosisOut] = []
    try:
        token: ConnectionToken | None = row.token
    except ConnectionToken.DoesNotExist:
        token = None
    if token is not None and token.state == ConnectionToken.State.ERROR:
        found += [d for d in [_diagnosis("token", token.error)] if d]
    refusal = getattr(row, "last_refusal", None)
    if refusal is not None:
        found += [d for d in [_diagnosis("graph", refusal.diagnosis)] if d]
    if getattr(row, "last_sync_status", None) == SyncRun.Status.FAILED:
        run = SyncRun.objects.filter(connection=row).only("error").first()
        found += [d for d in [_diagnosis("sync", run.error if run else None)] if d]
    titles = {d.title for d in found}
    for text in connection_out(row, None).problems:
        if not any(title and title in text for title in titles):
            found.append(schemas.DiagnosisOut(source="status", key="status", severity="warning", title=text, steps=[]))
    return found


def job_out(job: Job) -> schemas.JobOut:
    run_id = SyncRun.objects.filter(job=job).values_list("pk", flat=True).first() if job.kind == Job.Kind.SYNC else None
    result: dict[str, Any] | None = None
    if job.is_finished and isinstance(job.result, dict):
        result = {"ok": bool(job.result.get("ok", job.state == Job.State.SUCCEEDED))}
        diagnosis = _diagnosis("token" if job.kind != Job.Kind.SYNC else "sync", job.result.get("diagnosis"))
        if diagnosis is not None:
            result["diagnosis"] = diagnosis.model_dump()
        for name in ("rows", "pages", "added", "changed", "removed"):
            if isinstance(job.result.get(name), int):
                result[name] = job.result[name]
    return schemas.JobOut(
        id=job.pk,
        kind=job.kind,
        state=job.state,
        progress=job.progress,
        message=job.message,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        connection=job.connection_id,
        run=run_id,
        result=result,
        url=reverse("api:job", kwargs={"pk": job.connection_id, "job_id": job.pk}),
    )


def run_out(run: SyncRun) -> schemas.RunOut:
    return schemas.RunOut(
        id=run.pk,
        connection=run.connection_id,
        status=run.status,
        mode=run.mode,
        trigger=run.trigger,
        entity=run.entity,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_seconds=run.duration,
        pages=run.pages,
        rows=run.rows,
        bytes=run.bytes,
        total=run.total,
        added=run.added,
        changed=run.changed,
        removed=run.removed,
        message=run.message,
        diagnosis=_diagnosis("sync", run.error) if run.status == SyncRun.Status.FAILED else None,
        job=run.job_id,
    )


def credential_out(row: Connection) -> schemas.CredentialOut:
    today = timezone.localdate()
    expiry = credentials.expiry(row, today)
    listed = []
    for item in row.app_credentials.all():
        item: AppCredential  # type: ignore[no-redef]
        ends_on = timezone.localtime(item.end_at).date() if item.end_at else None
        listed.append(
            schemas.AppCredentialOut(
                kind=item.kind,
                key_id=item.key_id,
                display_name=item.display_name,
                thumbprint=item.thumbprint,
                start_at=item.start_at,
                end_at=item.end_at,
                days_left=(ends_on - today).days if ends_on else None,
                in_use=item.in_use,
            )
        )
    try:
        check: CredentialCheck | None = row.credential_check
    except CredentialCheck.DoesNotExist:
        check = None
    return schemas.CredentialOut(
        connection=row.pk,
        connection_name=row.name,
        team=team_slug(row),
        credential=credential_state(row, expiry),
        entra_checked_at=check.checked_at if check else None,
        app_credentials=listed,
    )
