"""The least-privilege planner pages: standalone (a new app) and per connection."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from connections import tokens
from connections.library.access import get_connection_for_user
from connections.library.forms import ProfileFieldsMixin
from connections.tokens import privileges
from microsoft import catalogue, planner

MAX_FREE_PATHS = 20
MULTI_TENANT_NAMES = ("organizations", "common")  # admin consent turns common into organizations


class PlannerForm(ProfileFieldsMixin, forms.Form):
    """Read-only input (GET): what to read, as whom, and the app to write the commands for.

    The tenant and client ID are checked as the connection form checks them; here both may be
    left empty, and the tenant may also be one of Entra's multi-tenant names."""

    entities = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(e.path, f"{e.display_name} ({e.path})") for e in catalogue.LISTED],
    )
    free_paths = forms.CharField(
        required=False,
        label="Other paths, one per line",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "sites/{site-id}/lists/{list-id}/items"}),
    )
    kind = forms.ChoiceField(
        choices=[("app", "Application (client credentials, no user)"), ("delegated", "Delegated (a user signs in)")],
        initial="app",
    )
    tenant = forms.CharField(required=False, max_length=255, help_text="Tenant ID or domain; empty: organizations.")
    client_id = forms.CharField(required=False, max_length=36, label="Application (client) ID")
    redirect_uri = forms.URLField(
        required=False, max_length=500, label="Redirect URI (optional)", assume_scheme="https"
    )

    def clean_client_id(self) -> str:
        return super().clean_client_id() if self.cleaned_data["client_id"].strip() else ""

    def clean_tenant(self) -> str:
        value = self.cleaned_data["tenant"].strip()
        if not value or value.lower() in MULTI_TENANT_NAMES:
            return value.lower()
        return super().clean_tenant()

    def clean_free_paths(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["free_paths"].splitlines() if line.strip()]
        if len(lines) > MAX_FREE_PATHS:
            raise forms.ValidationError(f"At most {MAX_FREE_PATHS} paths at a time.")
        too_long = [line for line in lines if len(line) > 300]
        if too_long:
            raise forms.ValidationError("A path can be at most 300 characters long.")
        return lines

    def paths(self) -> list[str]:
        return [*self.cleaned_data.get("entities", []), *self.cleaned_data.get("free_paths", [])]


def _outputs(
    plan: planner.Plan, client_id: str, tenant: str, redirect_uri: str | None, cloud: str = "global", **first: Any
) -> dict[str, Any]:
    return {
        "plan": plan,
        "manifest": plan.manifest(),
        "az_commands": [
            (planner.CLOUD_LABELS[name], plan.az_commands(client_id, name))
            for name in planner.CLOUD_LABELS
            if name != "usdod"
        ],
        "consent_urls": plan.consent_urls(tenant, client_id, redirect_uri, **first),
        "cloud": cloud,
    }


@require_GET
def standalone(request: HttpRequest) -> HttpResponse:
    """For an app not saved yet: pick entities, get the permission set and the commands."""
    form = PlannerForm(request.GET or None)
    context: dict[str, Any] = {"form": form}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        plan = planner.plan(form.paths(), data["kind"])
        context.update(_outputs(plan, data["client_id"], data["tenant"], data["redirect_uri"] or None))
    return render(request, "connections/permissions/planner.html", context)


@require_GET
def for_connection(request: HttpRequest, pk: Any) -> HttpResponse:
    """The plan for a connection's app: its entities (and those of connections sharing the app)."""
    connection = get_connection_for_user(request, pk)
    current = privileges.sibling_entities(connection)
    listed = {e.path for e in catalogue.LISTED}
    initial = {
        "entities": [p for p in current if p in listed],
        "free_paths": "\n".join(p for p in current if p not in listed),
        "kind": privileges.token_kind(connection),
    }
    form = PlannerForm(request.GET or None, initial=initial)
    for name in ("tenant", "client_id", "redirect_uri"):
        del form.fields[name]
    if form.is_bound:
        if not form.is_valid():
            return render(
                request,
                "connections/permissions/connection.html",
                {"connection": connection, "can": connection.can, "form": form},
            )
        plan = privileges.plan_for(connection, form.paths(), form.cleaned_data["kind"])
    else:
        plan = privileges.plan_for(connection)
    kind = plan.token_kind
    context_ = tokens.context_for(connection)
    row = getattr(connection, "token", None)
    held = list(getattr(row, "permissions", None) or [])
    unneeded, replaceable = (
        planner.removable(held, plan) if kind == "app" and row is not None and row.kind == "app" else ([], [])
    )
    missing = [n.permission.name for n in plan.needs if not all(rule.satisfied_by(held) for rule in n.rules)]
    context: dict[str, Any] = {
        "connection": connection,
        "can": connection.can,
        "form": form,
        "held": held,
        "unneeded": unneeded,
        "replaceable": replaceable,
        # Admin consent (/.default) grants all the registration lists: say which of those the plan does not need.
        "beyond_plan": [*unneeded, *(name for name, _ in replaceable)],
        "missing": missing,
    }
    context.update(
        _outputs(
            plan,
            connection.client_id,
            connection.tenant,
            connection.redirect_url or None,
            first_login_host=context_.login_host,
            first_graph_service_url=connection.service_url,
        )
    )
    return render(request, "connections/permissions/connection.html", context)
