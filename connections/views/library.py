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
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from connections import credentials, tokens
from connections.library import audit
from connections.library.access import Can, admin_teams, get_connection_for_user, teams_of
from connections.library.forms import SECRET_RETYPE, ConnectionForm, login_base_for
from connections.library.rows import list_rows, rows_version
from connections.library.status import Health, fill_status, problems, with_status
from microsoft import clouds

from ..models import AuditEntry, Connection, Role, SyncSchedule
from ..models.schedules import TASK_COLUMNS_NOT_READ
from .fragments import HtmxHttpRequest
from .schedules import panel_context

AUDITED_FIELDS = list(ConnectionForm.Meta.fields)
AUDIT_TRAIL_LENGTH = 50


@require_GET
def connection_list(request: HttpRequest) -> HttpResponse:
    """Every connection of the user's teams, with status, in a fixed number of queries."""
    teams = teams_of(request)
    # Only one of the user's own teams filters; anything else (typed, stale, huge) shows all.
    selected = next((team.pk for team in teams if str(team.pk) == request.GET.get("team", "")), None)
    rows = list_rows(request, selected)
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
            "rows_version": rows_version(shown),
            "total": len(rows),
            "counts": [(Health(key), count) for key, count in counts.items()],
            "entities": entities,
            "selected_state": state if state in Health.values else "",
            "selected_entity": entity if entity in entities else "",
            "teams": teams,
            "selected_team": selected,
            "can_create": any(Can(team.access_role).admin for team in teams),
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
# check of Entra's credentials (the credentials panel), the schedule with what its next run needs,
# and who created and last changed the profile (its names, under the profile).
DETAIL_JOINS = (
    "certificate",
    "credential_check",
    "sync_schedule__periodic_task__interval",
    "sync_schedule__periodic_task__crontab",
    "created_by",
    "updated_by",
)
# Of those people, the page shows the name only.
_PERSON_NOT_READ = (
    "password",
    "last_login",
    "is_superuser",
    "first_name",
    "last_name",
    "email",
    "is_staff",
    "is_active",
    "date_joined",
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
    *(f"sync_schedule__periodic_task__{name}" for name in TASK_COLUMNS_NOT_READ),
    *(f"{person}__{name}" for person in ("created_by", "updated_by") for name in _PERSON_NOT_READ),
)


def _detail(request: HttpRequest, pk: Any) -> Connection:
    """The connection as the detail page shows it: status filled, credentials read for the page."""
    detail = with_status(Connection.objects.select_related("team", *DETAIL_JOINS), last_sync=False)
    connection = get_connection_for_user(request, pk, queryset=detail.defer(*DETAIL_NOT_READ))
    fill_status(connection)  # the last sync: the newest of the runs the syncs panel shows
    credentials.for_page(connection)
    return connection


@require_GET
def connection_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    connection = _detail(request, pk)
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
            "sync_schedule": panel_context(connection, schedule=schedule, form_later=True),
        },
    )


@require_GET
def problems_banner(request: HttpRequest, pk: Any) -> HttpResponse:
    """The problems banner alone, re-read when a job finishes, so it agrees with the panels."""
    connection = _detail(request, pk)
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
