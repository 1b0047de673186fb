"""The alerts page: each team's notification channels (admins add and remove them, operators test
them) and the alerts recently sent. Webhook URLs are never shown, only their host."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from connections.alerts import channels
from connections.alerts.forms import ChannelForm
from connections.library.access import admin_teams

from ..models import Alert, NotificationChannel, Role, Team

RECENT_ALERTS = 30


def _page(request: HttpRequest, form: ChannelForm | None) -> HttpResponse:
    teams = list(Team.objects.for_user(request))
    rows = NotificationChannel.objects.for_user(request).select_related("team").order_by("team__name", "name")
    recent = (
        Alert.objects.for_user(request)
        .select_related("team", "connection")
        .prefetch_related("deliveries__channel")[:RECENT_ALERTS]
    )
    return render(
        request,
        "connections/alerts.html",
        {
            "teams": teams,
            "channels": rows.with_can(request),
            "alerts": recent,
            "form": form,
        },
    )


@require_GET
def alerts_page(request: HttpRequest) -> HttpResponse:
    teams = admin_teams(request)
    form = ChannelForm(teams=teams, user=request.user) if teams.exists() else None
    return _page(request, form)


@sensitive_post_parameters("url")  # a webhook URL is a secret
@require_POST
def channel_new(request: HttpRequest) -> HttpResponse:
    teams = admin_teams(request)
    if not teams.exists():
        raise PermissionDenied("Only team admins can add alert channels.")
    form = ChannelForm(request.POST, teams=teams, user=request.user)
    if form.is_valid():
        channel = form.save()
        messages.success(request, f"Channel “{channel.name}” added for {channel.team}. Press Send test to try it.")
        return redirect("connections:alerts")
    return _page(request, form)


@require_POST
def channel_test(request: HttpRequest, channel_id: Any) -> HttpResponse:
    channel = NotificationChannel.objects.select_related("team").get_for_user(request, Role.OPERATOR, pk=channel_id)
    problem = channels.send(channel, channels.test_message(channel))
    channels.record_result(channel, problem)
    if problem:
        messages.error(request, f"The test alert to “{channel.name}” failed: {problem}")
    else:
        messages.success(request, f"A test alert was sent to “{channel.name}” ({channel.target}).")
    return redirect("connections:alerts")


@require_POST
def channel_delete(request: HttpRequest, channel_id: Any) -> HttpResponse:
    channel = NotificationChannel.objects.get_for_user(request, Role.ADMIN, pk=channel_id)
    name = channel.name
    channel.delete()
    messages.success(request, f"Channel “{name}” removed.")
    return redirect("connections:alerts")
