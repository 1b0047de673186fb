"""The sync schedule panel of the detail page: shown to everyone, changed by operators."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from connections.library.access import get_connection_for_user
from connections.syncs import schedules
from connections.syncs.scheduleforms import SyncScheduleForm

from ..models import Role, SyncSchedule
from . import fragments

PANEL = "connections/panels/schedule.html"
FORM = "connections/panels/_schedule_form.html"


_UNREAD = object()


def panel_context(
    connection: Any,
    form: SyncScheduleForm | None = None,
    said: str = "",
    schedule: Any = _UNREAD,
    *,
    form_later: bool = False,
) -> dict[str, Any]:
    """What the panel shows: the schedule in words, its next run in the schedule's time zone, the form.

    ``schedule``: the connection's schedule (or None) when the caller's query already joined it.
    ``form_later``: the form is read when its closed section is opened (``schedule_form``): its
    ~600 time zones are most of a connection page's bytes, and few visits change the schedule.
    """
    if schedule is _UNREAD:
        schedule = (
            SyncSchedule.objects.filter(connection=connection)
            .select_related("periodic_task__interval", "periodic_task__crontab")
            .first()
        )
    upcoming = schedule.next_run() if schedule is not None else None
    if upcoming is not None and schedule is not None:  # no schedule, no next run
        upcoming = upcoming.astimezone(zoneinfo.ZoneInfo(schedule.timezone))
    return {
        "connection": connection,
        "can": connection.can,
        "schedule": schedule,
        "next_run": upcoming,
        "schedule_form": None if form_later else form or SyncScheduleForm(schedule=schedule),
        "form_later": form_later,
        "schedule_said": said,
    }


@require_GET
def schedule_panel(request: HttpRequest, pk: Any) -> HttpResponse:
    connection = get_connection_for_user(request, pk)
    return render(request, PANEL, panel_context(connection))


@require_GET
def schedule_form(request: fragments.HtmxHttpRequest, pk: Any) -> HttpResponse:
    """The form, read when the panel's closed section is opened; a page of its own without scripts."""
    connection = get_connection_for_user(request, pk, Role.OPERATOR)
    context = panel_context(connection)
    if request.htmx:
        return render(request, FORM, context)
    return render(request, "connections/schedule.html", {**context, "form_open": True})


@require_POST
def schedule_save(request: fragments.HtmxHttpRequest, pk: Any) -> HttpResponse:
    connection = get_connection_for_user(request, pk, Role.OPERATOR)
    form = SyncScheduleForm(request.POST)
    if form.is_valid():
        try:
            schedule = form.save(connection, request.user)
        except schedules.ScheduleError as error:
            form.add_error(None, str(error))
        else:
            said = (
                f"Sync schedule saved: {schedule.describe()}."
                if schedule is not None and schedule.enabled
                else "Sync schedule off: syncs run only when an operator starts one."
            )
            if request.htmx:
                return render(request, PANEL, panel_context(connection, said=said))
            messages.success(request, said)
            return redirect("connections:detail", pk=connection.pk)
    context = panel_context(connection, form)
    if request.htmx:
        return render(request, PANEL, context)
    return render(request, "connections/schedule.html", context)
