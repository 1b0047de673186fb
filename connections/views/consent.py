"""The admin-consent round trip: start it with a state, and handle Entra's answer."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from connections import jobs
from connections.library.access import get_connection_for_user
from connections.tokens import consent
from microsoft import outbound

from ..models import Job, Role


@require_POST
def consent_start(request: HttpRequest, pk: Any) -> HttpResponse:
    """Send the browser to the tenant's admin-consent page with a state that brings it back here."""
    connection = get_connection_for_user(request, pk, Role.OPERATOR)
    try:
        return redirect(consent.begin(request, connection))
    except outbound.DisallowedURL as refused:
        messages.error(request, f"The consent page's address is refused: {refused.message} Edit the connection.")
        return redirect("connections:detail", pk=connection.pk)


def consent_callback(request: HttpRequest) -> HttpResponse:
    """Entra's answer to an admin-consent request (called by the OAuth callback view)."""
    answer = consent.Return.of(request.GET)
    try:
        connection_id = consent.take(request, request.GET.get("state", ""))
    except consent.ConsentRefused as refused:
        return render(
            request, "connections/consent/unmatched.html", {"reason": str(refused), "answer": answer}, status=400
        )
    connection = get_connection_for_user(request, connection_id, Role.OPERATOR)
    if not answer.granted:
        diagnosis = consent.declined_diagnosis(connection, answer)
        consent.remember_outcome(request, connection, diagnosis)
        messages.warning(request, f"{diagnosis.title}: nothing was changed.")
        return redirect("connections:detail", pk=connection.pk)
    jobs.start(connection, Job.Kind.TOKEN_REFETCH, request.user)
    messages.success(
        request,
        f"Admin consent granted for {answer.tenant or connection.tenant}. The token is "
        "being re-fetched, so it carries the newly granted permissions.",
    )
    return redirect("connections:detail", pk=connection.pk)
