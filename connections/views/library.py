"""The connection library pages: list, detail, create, edit, delete.

Every connection is fetched through connections.library.access, so another team's connection answers
404 and a role too low for the action answers 403.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from connections.credentials import expiry as credentials
from connections.library import audit
from connections.library.access import Can, CompiledConnection, admin_teams, get_connection_for_user, teams_of
from connections.library.forms import SECRET_RETYPE, ConnectionForm, login_base_for
from connections.library.status import HEALTH_ORDER, Health, fill_last_sync, health, problems, with_status
from connections.models.compiled import CompiledQuery
from connections.syncs import deltawindow
from connections.syncs import schedules as sync_schedules
from connections.tokens import fetch as tokens
from microsoft import clouds

from ..models import AuditEntry, Connection, Role, SyncSchedule
from .fragments import HtmxHttpRequest
from .schedules import panel_context as schedule_panel_context

AUDITED_FIELDS = list(ConnectionForm.Meta.fields)
AUDIT_TRAIL_LENGTH = 50


# What the list reads of each connection, its token and certificate (the tokens, claims,
# certificates and keys stay in the database; a field left out here would cost a query per row).
LIST_FIELDS = (
    "id",
    "team",
    "name",
    "grant_type",
    "token_version",
    "entity",
    "credential_type",
    "client_secret",
    "secret_expires_on",
    "odata_filter",
    "token__state",
    "token__expires_at",
    "token__error",
    "last_refusal__diagnosis",
    "certificate__not_after",
)

# Each row's schedule, with what its next run needs (beat's task and its interval or crontab).
LIST_SCHEDULE_JOINS = ("sync_schedule__periodic_task__interval", "sync_schedule__periodic_task__crontab")


def _columns(path: str, *names: str) -> list[str]:
    return [f"{path}__{name}" for name in names]


# What deltawindow.is_scheduled and schedules.next_run read of them (of beat's task, its
# TASK_COLUMNS_READ; solar and clocked are never joined, their ids say there is none).
# Every column of all four is converted on every row; a field left out costs a query per row.
_LIST_SCHEDULE_FIELDS = (
    *_columns("sync_schedule", "connection", "enabled", "periodic_task"),
    *_columns("sync_schedule__periodic_task", *sync_schedules.TASK_COLUMNS_READ),
    *_columns("sync_schedule__periodic_task__interval", "every", "period"),
    *_columns(
        "sync_schedule__periodic_task__crontab",
        "minute",
        "hour",
        "day_of_week",
        "day_of_month",
        "month_of_year",
        "timezone",
    ),
)


def _list_query(teams: list[int]) -> QuerySet[Connection]:
    """The connections of ``teams`` with everything the list shows: compiled once per process (``_LIST``),
    its joins and subqueries cost more to build and compile than the rows take to read."""
    found = with_status(Connection.objects.filter(team_id__in=teams))
    found = found.select_related("certificate").annotate(in_use_end=credentials.in_use_end_subquery())
    # Each row's schedule (with what its next run needs) and its last changes-only run come with it.
    found = found.select_related(*LIST_SCHEDULE_JOINS).annotate(last_delta_at=deltawindow.last_delta_run_at("pk"))
    return found.only(*LIST_FIELDS, *_LIST_SCHEDULE_FIELDS).order_by("team__name", "name")


_LIST = CompiledQuery(_list_query, [int])


@require_GET
def connection_list(request: HttpRequest) -> HttpResponse:
    """Every connection of the user's teams, with status, in a fixed number of queries."""
    # The user's role comes with each team, once, rather than as a subquery per connection row; their
    # ids filter the connections (scoped as ``for_user`` scopes).
    teams = teams_of(request)
    roles = {team.pk: team.access_role for team in teams}
    by_pk = {team.pk: team for team in teams}
    # Only one of the user's own teams filters; anything else (typed, stale, huge) shows all.
    selected = next((team.pk for team in teams if str(team.pk) == request.GET.get("team", "")), None)
    rows = _LIST.fetch([selected] if selected is not None else list(roles))
    today = timezone.localdate()  # once: each call looks up the current time zone
    for row in rows:
        row.team = by_pk[row.team_id]  # the row's team was just read (a join would make one per row)
        row.access_role = roles.get(row.team_id)
        row.can = Can(row.access_role)
        try:
            schedule: SyncSchedule | None = row.sync_schedule
        except SyncSchedule.DoesNotExist:
            schedule = None
        row.next_run = sync_schedules.next_run(schedule) if schedule is not None else None
        last_delta_at = row.last_delta_at if schedule is not None else None  # type: ignore[attr-defined]  # annotated
        row.delta_stale = deltawindow.stale(row, schedule, last_delta_at)
        row.expiry = credentials.expiry(row, today)  # before problems, which then reads it, not works it out again
        row.problems = problems(row)
        row.health = health(row, row.problems, row.expiry)
    # Failing first, then needs attention, never run, healthy; stable, so team and name order stays.
    rows.sort(key=lambda row: HEALTH_ORDER[row.health])
    entities = sorted({row.entity for row in rows})
    counts = {state: sum(row.health == state for row in rows) for state in Health}
    state = request.GET.get("state", "")
    entity = request.GET.get("entity", "")
    any_state, any_entity = state not in Health.values, entity not in entities
    shown = [row for row in rows if (any_state or row.health == state) and (any_entity or row.entity == entity)]
    return render(
        request,
        "connections/list.html",
        {
            "connections": shown,
            "total": len(rows),
            "counts": [(Health(key), count) for key, count in counts.items()],
            "entities": entities,
            "selected_state": state if state in Health.values else "",
            "selected_entity": entity if entity in entities else "",
            "teams": teams,
            "selected_team": selected,
            "can_create": any(Can(role).admin for role in roles.values()),
            "sandbox_portal": _sandbox_portal(),
        },
    )


def _sandbox_portal() -> str:
    """The bundled sandbox's portal, where a newcomer registers an app as in Entra ID ("" without one)."""
    base = (getattr(settings, "GRAPH_SANDBOX_URL", "") or "").rstrip("/")
    return f"{base}/_sandbox/portal" if base else ""


def _audit_entries(request: HttpRequest, connection: Connection) -> Any:
    entries = AuditEntry.objects.for_user(request).filter(connection=connection).select_related("user")
    return entries[:AUDIT_TRAIL_LENGTH]


# What the detail page reads with the connection, in its one query: the certificate and the last
# check of Entra's credentials (the credentials panel), the schedule with what its next run needs.
DETAIL_JOINS = (
    "certificate",
    "credential_check",
    "sync_schedule__periodic_task__interval",
    "sync_schedule__periodic_task__crontab",
)
# What of those the page never reads: each column is fetched and converted on every view. (A column
# read after all costs a query: the page-query tests say so.)
DETAIL_NOT_READ = (
    *(
        f"token__{name}"
        for name in ("refresh_token", "token_type", "scope", "request_id", "claimed_until", "claimed_by")
    ),
    *(f"last_refusal__{name}" for name in ("body", "headers")),
    *(f"certificate__{name}" for name in ("private_key", "certificate_pem", "serial", "uploaded_at", "uploaded_by")),
    *(f"sync_schedule__periodic_task__{name}" for name in sync_schedules.TASK_COLUMNS_NOT_READ),
)


# Entra's end of the credential comes from for_page; the last sync from the newest of the runs the
# syncs panel shows (one query for both).
_DETAIL = CompiledConnection(
    with_status(Connection.objects.select_related(*DETAIL_JOINS).defer(*DETAIL_NOT_READ), last_sync=False)
)


@require_GET
def connection_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    connection = _DETAIL.get(request, pk)
    fill_last_sync(connection)
    credentials.for_page(connection)
    try:
        schedule = connection.sync_schedule
    except SyncSchedule.DoesNotExist:
        schedule = None
    return render(
        request,
        "connections/detail.html",
        {
            "connection": connection,
            "can": connection.can,
            "problems": problems(connection),
            "sync_schedule": schedule_panel_context(connection, schedule=schedule, form_later=True),
        },
    )


@require_GET
def problems_banner(request: HttpRequest, pk: Any) -> HttpResponse:
    """The problems banner alone, re-read when a job finishes, so it agrees with the panels."""
    connection = _DETAIL.get(request, pk)
    fill_last_sync(connection)
    credentials.for_page(connection)
    return render(request, "connections/_problems.html", {"connection": connection, "problems": problems(connection)})


@require_GET
def audit_trail(request: HtmxHttpRequest, pk: Any) -> HttpResponse:
    """The audit trail: read when the detail page's section is first opened, reloaded when a job
    finishes; a page of its own for a browser without scripts."""
    connection = get_connection_for_user(request, pk)
    template = "connections/_audit_section.html" if request.htmx else "connections/audit.html"
    return render(request, template, {"connection": connection, "audit_entries": _audit_entries(request, connection)})


def _form_page(request: HttpRequest, form: ConnectionForm, connection: Connection | None) -> HttpResponse:
    return render(
        request,
        "connections/form.html",
        {
            "form": form,
            "connection": connection,
            "secret_retype": SECRET_RETYPE if form.is_bound and form.errors else "",
            "sandbox_url": getattr(settings, "GRAPH_SANDBOX_URL", "") or "",
            "login_base": login_base_for(form["service_url"].value() or ""),
            "login_bases": json.dumps(clouds.login_bases_by_graph_host()),
            "guid_pattern": clouds.GUID_PATTERN,
        },
    )


def _snapshot(connection: Connection) -> dict[str, Any]:
    return {name: getattr(connection, "team_id" if name == "team" else name) for name in AUDITED_FIELDS}


@sensitive_post_parameters("client_secret")  # error reports (debug page, admin mail) mask it
@require_http_methods(["GET", "POST"])
def connection_new(request: HttpRequest) -> HttpResponse:
    if not admin_teams(request).exists():
        raise PermissionDenied("Only team admins can create connections.")
    form = ConnectionForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            connection = form.save()
            audit.record(request, connection, audit.Action.CREATED, fields=[*AUDITED_FIELDS, "client_secret"])
        _flash_warnings(request, form)
        messages.success(request, f"Connection “{connection.name}” saved.")
        return redirect("connections:detail", pk=connection.pk)
    return _form_page(request, form, None)


@sensitive_post_parameters("client_secret")  # error reports (debug page, admin mail) mask it
@require_http_methods(["GET", "POST"])
def connection_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    connection = get_connection_for_user(request, pk, Role.ADMIN)
    before = _snapshot(connection)
    form = ConnectionForm(request.POST or None, instance=connection, user=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            connection = form.save()
            after = _snapshot(connection)
            changed = {name: (before[name], after[name]) for name in AUDITED_FIELDS if before[name] != after[name]}
            if changed:
                audit.record(request, connection, audit.Action.EDITED, fields=changed, changes=changed)
            if form.secret_replaced:
                audit.record(request, connection, audit.Action.SECRET_REPLACED, fields=["client_secret"])
            if form.sign_in_changed:
                tokens.discard_saved_token(connection)
        _flash_warnings(request, form)
        messages.success(request, f"Connection “{connection.name}” saved.")
        return redirect("connections:detail", pk=connection.pk)
    return _form_page(request, form, connection)


@require_http_methods(["GET", "POST"])
def connection_delete(request: HttpRequest, pk: Any) -> HttpResponse:
    connection = get_connection_for_user(request, pk, Role.ADMIN)
    if request.method == "POST":
        name = connection.name
        with transaction.atomic():
            audit.record(request, connection, audit.Action.DELETED)
            connection.delete()
        messages.success(request, f"Connection “{name}” deleted.")
        return redirect("connections:list")
    return render(request, "connections/confirm_delete.html", {"connection": connection, "can": connection.can})


def _flash_warnings(request: HttpRequest, form: ConnectionForm) -> None:
    for warning in form.warnings:
        messages.warning(request, warning)
