"""The person's own API tokens page: make a named token (its value shown once), see when each was
last used and when it expires, revoke one."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from connections.accounts import apitokens

from ..models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, e.g. “nightly export job”.")
    days = forms.IntegerField(
        label="Valid for (days)", min_value=1, initial=apitokens.DEFAULT_DAYS, help_text="At most a year by default."
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the token a name.")
        return name

    def clean_days(self) -> int:
        days = self.cleaned_data["days"]
        if days > settings.API_TOKEN_MAX_DAYS:
            raise forms.ValidationError(f"At most {settings.API_TOKEN_MAX_DAYS} days.")
        return days


def _page(request: HttpRequest, form: TokenForm, made: apitokens.Made | None = None, status: int = 200) -> HttpResponse:
    tokens = ApiToken.objects.filter(owner_id=request.user.pk).order_by("-created_at")
    response = render(
        request,
        "connections/account/tokens.html",
        {"form": form, "tokens": tokens, "made": made},
        status=status,
    )
    add_never_cache_headers(response)  # the one page that shows a new token's value must not be kept
    return response


@require_GET
def token_list(request: HttpRequest) -> HttpResponse:
    return _page(request, TokenForm())


@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    made = apitokens.create(request.user, form.cleaned_data["name"], form.cleaned_data["days"], request)
    return _page(request, TokenForm(), made)


@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    """Revoke one of the person's own tokens (anyone else's is 404, as another team's object is)."""
    token = apitokens.revoke(request.user, token_id, request)
    if token is None:
        raise Http404("No such token of yours.")
    messages.success(request, f"Token “{token.name}” is revoked: it no longer works.")
    return redirect("connections:api_tokens")
