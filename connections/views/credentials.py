"""Certificate credentials of a connection: upload (admins), switch back to the secret."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from connections.credentials import expiry as credentials
from connections.credentials.forms import CertificateForm
from connections.library import audit
from connections.library.access import get_connection_for_user
from connections.tokens import fetch as tokens

from ..models import Role


@sensitive_post_parameters("pkcs12_password")  # error reports (debug page, admin mail) mask it
@require_http_methods(["GET", "POST"])
def certificate_upload(request: HttpRequest, pk: Any) -> HttpResponse:
    connection = get_connection_for_user(request, pk, Role.ADMIN)
    form = CertificateForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        loaded = form.cleaned_data["loaded"]
        cert = credentials.save_certificate(connection, loaded, form.cleaned_data["assertion_form"], request.user)
        tokens.discard_saved_token(connection)
        audit.record(
            request,
            connection,
            audit.Action.CERTIFICATE_UPLOADED,
            fields=["private_key"],
            detail=f"{cert.subject}, SHA-1 {cert.thumbprint_sha1}, valid until {cert.not_after:%Y-%m-%d}",
        )
        messages.success(
            request,
            f"Certificate saved; {connection.name} now signs in with it. Upload the same "
            "certificate (public part) to the app registration if you have not yet.",
        )
        return redirect("connections:detail", pk=connection.pk)
    return render(
        request,
        "connections/certificate_form.html",
        {
            "connection": connection,
            "can": connection.can,
            "form": form,
            "certificate": credentials.certificate_of(connection),
        },
    )


@require_POST
def use_secret(request: HttpRequest, pk: Any) -> HttpResponse:
    """Switch a certificate connection back to its client secret (the certificate stays saved)."""
    connection = get_connection_for_user(request, pk, Role.ADMIN)
    if connection.secret_state != "saved":
        messages.error(request, "This connection has no readable client secret: edit it and enter the secret first.")
    elif connection.uses_certificate:
        type(connection).objects.filter(pk=connection.pk).update(credential_type="secret")
        tokens.discard_saved_token(connection)
        audit.record(request, connection, audit.Action.CREDENTIAL_CHANGED, fields=["credential_type"])
        messages.success(request, f"{connection.name} signs in with its client secret again.")
    return redirect("connections:detail", pk=connection.pk)


@require_GET
def credentials_panel(request: HttpRequest, pk: Any) -> HttpResponse:
    """The credentials panel alone, for the detail page's live refresh."""
    connection = credentials.for_page(get_connection_for_user(request, pk))
    return render(request, "connections/panels/credentials.html", {"connection": connection, "can": connection.can})
