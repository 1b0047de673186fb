"""Token buttons, live job status, the token panel, and the Sign in with Microsoft flow."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import condition, require_GET, require_POST

from connections import jobs, tokens
from connections.jobs import kinds
from connections.library.access import get_connection_for_user
from connections.tokens import consent, oauth
from microsoft import outbound

from ..models import Job, Role
from . import fragments
from .consent import consent_callback

JOB_TEMPLATE = kinds.JOB_FRAGMENT


def _start(request: fragments.HtmxHttpRequest, pk: str, kind: str) -> HttpResponse:
    connection = get_connection_for_user(request, pk, Role.OPERATOR)
    job = jobs.start(connection, kind, request.user)
    spec = kinds.get(kind)
    return fragments.started(
        request,
        connection,
        spec.fragment,
        {"job": job, "connection": connection},
        spec.started_message(connection.entity),
    )


@require_POST
def token_fetch(request: fragments.HtmxHttpRequest, pk: str) -> HttpResponse:
    return _start(request, pk, Job.Kind.TOKEN_FETCH)


@require_POST
def token_refetch(request: fragments.HtmxHttpRequest, pk: str) -> HttpResponse:
    return _start(request, pk, Job.Kind.TOKEN_REFETCH)


@require_POST
def connection_test(request: fragments.HtmxHttpRequest, pk: str) -> HttpResponse:
    return _start(request, pk, Job.Kind.TEST)


@require_GET
@fragments.stops_polling_when_gone
@condition(etag_func=fragments.job_etag)
def job_status(request: HttpRequest, pk: str, job_id: str) -> HttpResponse:
    """The polled fragment of one job (see ``fragments``)."""
    connection = get_connection_for_user(request, pk)
    job = get_object_or_404(Job, pk=job_id, connection=connection)
    return fragments.polled(request, JOB_TEMPLATE, {"job": job, "connection": connection}, finished=job.is_finished)


@require_GET
def token_panel(request: HttpRequest, pk: str) -> HttpResponse:
    connection = get_connection_for_user(request, pk)
    return render(request, "connections/token/panels.html", {"connection": connection, "can": connection.can})


@require_POST
def oauth_start(request: HttpRequest, pk: str) -> HttpResponse:
    connection = get_connection_for_user(request, pk, Role.OPERATOR)
    if not connection.is_delegated:
        messages.error(
            request,
            "This connection uses client credentials: there is nobody to sign in. Use Get access token instead.",
        )
        return redirect("connections:detail", pk=connection.pk)
    if not connection.authorize_url:
        messages.error(request, "The connection has no authorise URL. Edit it and fill in the tenant to get one.")
        return redirect("connections:detail", pk=connection.pk)
    try:
        return redirect(oauth.begin(request, connection))
    except outbound.DisallowedURL as refused:
        messages.error(request, f"The authorise URL is refused: {refused.message} Edit the connection.")
        return redirect("connections:detail", pk=connection.pk)


@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """Where Microsoft sends the browser back: check state (and so the session and connection)."""
    if consent.is_consent_return(request):
        return consent_callback(request)
    try:
        pending = oauth.take_pending(request, request.GET.get("state", ""))
    except oauth.CallbackRefused as refused:
        return render(request, "connections/token/callback_refused.html", {"reason": str(refused)}, status=400)
    connection = get_connection_for_user(request, pending.connection_id, Role.OPERATOR)
    error = request.GET.get("error")
    if error or not request.GET.get("code"):
        diagnosis = oauth.error_diagnosis(connection, error or "no_code", request.GET.get("error_description", ""))
        with transaction.atomic():  # the fetch is recorded finished and failed, or not at all
            row = tokens.token_row(connection)
            fetch = connection.token_fetches.create(reason="sign_in")
            tokens.record_failure(connection, row, fetch, diagnosis, request.user, sign_in=True)
        messages.warning(request, diagnosis.title)
        return redirect("connections:detail", pk=connection.pk)
    outcome = oauth.complete(connection, pending, request.GET["code"], request.user)
    if outcome.ok:
        who = (outcome.token.claims or {}).get("upn") or (outcome.token.claims or {}).get("name") or "the user"
        messages.success(request, f"Signed in as {who}. The token and its refresh token are saved (encrypted).")
    else:
        assert outcome.diagnosis is not None  # a failed outcome always carries its diagnosis
        messages.error(request, f"Sign-in did not give a token: {outcome.diagnosis.title}")
    return redirect("connections:detail", pk=connection.pk)
