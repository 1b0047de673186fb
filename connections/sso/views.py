"""Pages of Sign in with Microsoft: start, callback, "ask your admin", sign-out, and the log-in page.

The flow is mozilla-django-oidc's views; these subclasses only turn every refusal into a page
that says what happened (the library answers a bad callback with a bare redirect or a 400), keep
people without a team out of an empty dashboard, and offer Entra's sign-out afterwards.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LogoutView
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from connections.library.audit import client_ip
from connections.models import EntraIdentity
from connections.models.sso import person_label

from ..views.auth import LoginView
from . import refusals
from .backend import library_setting
from .config import EntraSignIn
from .refusals import SignInRefused

SIGNED_IN_KEY = "sso_signed_in"  # this session began with Sign in with Microsoft
NO_ACCESS_KEY = "sso_no_access"  # who signed in without a team, for the "ask your admin" page
PENDING_SECONDS = 600  # a sign-in must come back within ten minutes

log = logging.getLogger(__name__)


def refused(request: HttpRequest, refusal: SignInRefused) -> HttpResponse:
    log.warning("Sign in with Microsoft refused (%s) for a browser at %s", refusal.reason, client_ip(request))
    return render(
        request,
        "sso/refused.html",
        {"refusal": refusal, "sso_enabled": EntraSignIn.from_settings().enabled},
        status=refusal.status,
    )


@method_decorator(login_not_required, name="dispatch")
class SignInStart(OIDCAuthenticationRequestView):
    """Sign in with Microsoft: remember state, nonce and PKCE verifier, go to Entra's authorize page."""

    get_settings = staticmethod(library_setting)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not EntraSignIn.from_settings().enabled:
            return refused(request, refusals.NOT_CONFIGURED)
        return super().get(request)


@method_decorator(login_not_required, name="dispatch")
class SignInCallback(OIDCAuthenticationCallbackView):
    """Entra sends the browser back here with ``code`` and ``state`` (or ``error``)."""

    get_settings = staticmethod(library_setting)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not EntraSignIn.from_settings().enabled:
            return refused(request, refusals.NOT_CONFIGURED)
        state = request.GET.get("state", "")
        pending = request.session.get("oidc_states")
        pending = pending if isinstance(pending, dict) else {}
        entry = pending.get(state) if state else None
        if request.GET.get("error"):
            if entry is not None:
                del pending[state]
                request.session.modified = True
            return refused(
                request, refusals.from_error_redirect(request.GET["error"], request.GET.get("error_description", ""))
            )
        if entry is None:
            return refused(request, refusals.STATE_UNKNOWN)
        if not request.GET.get("code"):
            del pending[state]
            request.session.modified = True
            return refused(request, refusals.NO_CODE)
        if time.time() - float(entry.get("added_on", 0)) > PENDING_SECONDS:
            del pending[state]
            request.session.modified = True
            return refused(request, refusals.STATE_EXPIRED)
        try:
            return super().get(request)  # takes the state (once), redeems the code, checks the token
        except SignInRefused as refusal:
            return refused(request, refusal)
        except SuspiciousOperation:
            return refused(request, refusals.STATE_UNKNOWN)

    def login_failure(self) -> HttpResponse:
        user = getattr(self, "user", None)
        if user is not None and not user.is_active:
            return refused(self.request, refusals.DISABLED)
        return refused(
            self.request,
            SignInRefused(
                "failed",
                "The sign-in could not be completed. Nobody was signed in. Start again with Sign in with Microsoft.",
            ),
        )

    def login_success(self) -> HttpResponse:
        user = self.user
        if not user.is_superuser and not user.memberships.exists():
            if self.request.user.is_authenticated:
                auth.logout(self.request)
            identity = EntraIdentity.objects.get(user=user)  # as just updated from the token
            self.request.session[NO_ACCESS_KEY] = {
                "name": identity.display_name,
                "upn": identity.upn,
                "roles": identity.roles[:20],
                "groups": identity.groups[:20],
            }
            return redirect("sso:no_access")
        response = super().login_success()
        self.request.session[SIGNED_IN_KEY] = True
        self.request.session.pop(NO_ACCESS_KEY, None)
        # Entra's changes reach a person at their next sign-in: make that come within a working day.
        self.request.session.set_expiry(settings.SSO_SESSION_SECONDS)
        log.info("%s signed in with Microsoft", person_label(user))
        return response


def _contact() -> str:
    if settings.SSO_ACCESS_CONTACT:
        return settings.SSO_ACCESS_CONTACT
    admins = get_user_model().objects.filter(is_superuser=True, is_active=True).order_by("username")[:3]
    names = [person_label(u) + (f" <{u.email}>" if u.email else "") for u in admins]
    return ", ".join(names) or "a graphconn site administrator"


@login_not_required
def no_access(request: HttpRequest) -> HttpResponse:
    """Signed in with Microsoft, but no team: who they are, what Entra sent, whom to ask."""
    person = request.session.get(NO_ACCESS_KEY)
    if not person:
        return redirect(settings.LOGIN_URL)
    return render(request, "sso/no_access.html", {"person": person, "contact": _contact()}, status=403)


class SignOutView(LogoutView):
    """Ends the dashboard session; after a Microsoft sign-in, offers Entra's sign-out as well."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        was_sso = bool(request.session.get(SIGNED_IN_KEY))
        response = super().post(request, *args, **kwargs)
        config = EntraSignIn.from_settings()
        if not (was_sso and config.enabled):
            return response
        back = request.build_absolute_uri(reverse(settings.LOGIN_URL))
        return render(request, "sso/signed_out.html", {"end_session_url": config.end_session_url(back)})


class LoginPage(LoginView):
    """The log-in page: Sign in with Microsoft when configured; the password form unless switched off."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(sso_enabled=EntraSignIn.from_settings().enabled, local_login=settings.LOCAL_LOGIN_ENABLED)
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.LOCAL_LOGIN_ENABLED:
            context = self.get_context_data(
                refusal="Password log-in is switched off on this server: sign in with your Microsoft work "
                "account. (Site administrators can still use the Django admin's log-in.)"
            )
            return self.render_to_response(context, status=403)
        return super().post(request, *args, **kwargs)
