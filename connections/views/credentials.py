"""Certificate credentials of a connection: upload (admins), switch back to the secret."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from connections import alerts, credentials, tokens
from connections.credentials.forms import CertificateForm
from connections.library import audit
from connections.library.access import get_connection_for_user

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
        alerts.observe_expiry(connection)  # the credential in use may have changed: its expiry alerts follow
        if not cert.not_valid_yet:
            messages.success(
                request,
                f"Certificate saved; {connection.name} now signs in with it. Upload the same "
                "certificate (public part) to the app registration if you have not yet.",
            )
        elif connection.uses_certificate:
            messages.warning(
                request,
                f"Certificate saved, but it is valid only from {cert.not_before:%Y-%m-%d %H:%M} UTC: Entra ID "
                f"refuses sign-ins with it until then, so {connection.name} cannot get a new token before that "
                "(a token it already has works until it expires).",
            )
        else:
            messages.warning(
                request,
                f"Certificate saved, but it is valid only from {cert.not_before:%Y-%m-%d %H:%M} UTC and Entra ID "
                f"refuses sign-ins with it until then, so {connection.name} keeps signing in with its client "
                "secret. From that date, press Use the certificate.",
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
        connection.credential_type = "secret"
        tokens.discard_saved_token(connection)
        audit.record(request, connection, audit.Action.CREDENTIAL_CHANGED, fields=["credential_type"])
        alerts.observe_expiry(connection)
        messages.success(request, f"{connection.name} signs in with its client secret again.")
    return redirect("connections:detail", pk=connection.pk)


@require_POST
def use_certificate(request: HttpRequest, pk: Any) -> HttpResponse:
    """Switch a connection to its saved certificate (kept aside while it was not valid yet)."""
    connection = get_connection_for_user(request, pk, Role.ADMIN)
    cert = credentials.certificate_of(connection)
    if cert is None:
        messages.error(request, "This connection has no certificate saved: upload one first.")
    elif cert.not_valid_yet:
        messages.error(
            request,
            f"The certificate is valid only from {cert.not_before:%Y-%m-%d %H:%M} UTC: Entra ID refuses sign-ins "
            f"with it until then, so {connection.name} keeps its client secret.",
        )
    elif not connection.uses_certificate:
        credentials.use_certificate(connection)
        audit.record(request, connection, audit.Action.CREDENTIAL_CHANGED, fields=["credential_type"])
        alerts.observe_expiry(connection)
        messages.success(request, f"{connection.name} signs in with its certificate now.")
    return redirect("connections:detail", pk=connection.pk)


@require_GET
def credentials_panel(request: HttpRequest, pk: Any) -> HttpResponse:
    """The credentials panel alone, for the detail page's live refresh."""
    connection = credentials.for_page(get_connection_for_user(request, pk))
    return render(request, "connections/panels/credentials.html", {"connection": connection, "can": connection.can})
