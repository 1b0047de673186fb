"""The connection profile form: validation that keeps the server from calling arbitrary URLs,
server-side defaults for token/authorise URLs and scope/resource, and a write-only secret."""

from __future__ import annotations

import re
from typing import Any, cast
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from connections.credentials.forms import write_only_secret
from connections.library.access import admin_teams
from connections.models import Connection
from connections.models.profiles import default_redirect_url
from connections.policy import outbound_policy
from microsoft import catalogue, graphclient, outbound, tokenclient
from microsoft.clouds import DEFAULT_CLOUD, GUID

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+[A-Za-z][A-Za-z0-9-]{{0,61}}[A-Za-z0-9]$")
# Graph paths: segments, OData keys such as users('x') and {id} placeholders; nothing that could
# leave the service URL (no scheme, //, .., query or fragment).
ENTITY_PATH = re.compile(r"^[A-Za-z0-9_.\-()'=,:@$!~{}]+(?:/[A-Za-z0-9_.\-()'=,:@$!~{}]+)*$")
SELECT = re.compile(r"^[A-Za-z0-9_.@/]+(?:\s*,\s*[A-Za-z0-9_.@/]+)*$")
OUTBOUND_FIELDS = ("service_url", "token_url", "authorize_url")
# Fields that decide how a token is obtained: a change makes the saved token stale.
SIGN_IN_FIELDS = frozenset(
    {"tenant", "client_id", "token_version", "grant_type", "token_url", "scope", "resource", "credential_type"}
)

SECRET_RETYPE = "Re-type the client secret: it is never sent back to your browser, not even after an error."


def login_base_for(service_url: str) -> str:
    """Where to sign in for a service URL: ``GRAPH_SANDBOX_URL`` for one on its origin (the
    setting names a stand-in that answers for Graph and Entra ID at one base URL), else the login
    host of the URL's cloud."""
    base = getattr(settings, "GRAPH_SANDBOX_URL", "") or ""
    if base and _origin(service_url) == _origin(base):
        return base
    return tokenclient.cloud_for_graph_url(service_url).login_host


def _origin(url: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or 443
    except ValueError:
        return ("", "", None)


class ProfileFieldsMixin:
    """Validation of the profile's fields, shared by the dashboard form and Django admin's, so no
    way of saving a profile skips the allowed-hosts and path checks."""

    cleaned_data: dict[str, Any]

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def _clean_outbound(self, name: str) -> str:
        url = (self.cleaned_data.get(name) or "").strip()
        if url:
            try:
                outbound.check_url(url, outbound_policy())
            except outbound.DisallowedURL as error:
                raise ValidationError(error.message) from None
        return url.rstrip("/") if name == "service_url" else url

    def clean_service_url(self) -> str:
        url = self._clean_outbound("service_url")
        if "?" in url or "#" in url:  # paths are appended to it
            raise ValidationError(f"The service URL is a base such as {DEFAULT_CLOUD.graph_base}, without ? or #.")
        return url

    def clean_token_url(self) -> str:
        url = self._clean_outbound("token_url")
        if url and urlsplit(url).path.strip("/").split("/")[0].lower() in ("v1.0", "beta"):
            raise ValidationError(
                "This is a Microsoft Graph URL. The token URL is Entra ID's token endpoint, "
                f"such as {DEFAULT_CLOUD.login_base}/{{tenant}}/oauth2/v2.0/token."
            )
        return url

    def clean_authorize_url(self) -> str:
        return self._clean_outbound("authorize_url")

    def clean_redirect_url(self) -> str:
        url = (self.cleaned_data.get("redirect_url") or "").strip()
        if url:
            URLValidator(schemes=["https", "http"], message="Enter the full callback URL, https://…")(url)
            if "@" in urlsplit(url).netloc:
                raise ValidationError("The redirect URL must not contain a user name or password.")
        return url

    def clean_tenant(self) -> str:
        tenant = self.cleaned_data["tenant"].strip()
        if not (GUID.match(tenant) or DOMAIN.match(tenant)):
            raise ValidationError(
                "Enter the directory (tenant) ID: a GUID or a domain, such as "
                "72f988bf-86f1-41af-91ab-2d7cd011db47 or contoso.onmicrosoft.com."
            )
        return tenant.lower() if GUID.match(tenant) else tenant

    def clean_client_id(self) -> str:
        client_id = self.cleaned_data["client_id"].strip()
        if not GUID.match(client_id):
            raise ValidationError(
                "The application (client) ID is a GUID such as 6731de76-14a6-49ae-97bc-6eba6914391e; "
                "copy it from the app registration's overview."
            )
        return client_id.lower()

    def clean_entity(self) -> str:
        raw = self.cleaned_data["entity"].strip()
        entity = raw.strip("/")
        if not ENTITY_PATH.match(entity) or ".." in entity or "//" in raw:
            raise ValidationError(
                "Enter a Graph path such as users or groups/{id}/members (no https://, no query string, no ..)."
            )
        return entity

    def clean_item_url(self) -> str:
        convention = self.cleaned_data["item_url"].strip().strip("/")
        problem = graphclient.convention_problem(convention)
        if problem:
            raise ValidationError(problem)
        sample = graphclient.PLACEHOLDER.sub(lambda m: {"entity": "users", "key": "abc"}[m.group(1)], convention)
        if not ENTITY_PATH.match(sample) or ".." in sample:
            raise ValidationError("The item URL convention must be a path such as {entity}/{key}.")
        return convention

    def clean_odata_select(self) -> str:
        select = self.cleaned_data["odata_select"].strip()
        if select and not SELECT.match(select):
            raise ValidationError("List property names separated by commas, e.g. id,displayName,mail.")
        return select

    def clean_odata_filter(self) -> str:
        text = self.cleaned_data["odata_filter"].strip()
        if any(ord(c) < 32 for c in text):
            raise ValidationError("The filter must be on one line.")
        return text


class ConnectionForm(ProfileFieldsMixin, forms.ModelForm):
    """Create and edit. The secret is a separate, write-only field; blank on edit keeps the saved one."""

    client_secret = write_only_secret("Client secret (value)")

    class Meta:
        model = Connection
        fields = [
            "name",
            "team",
            "service_url",
            "entity",
            "item_url",
            "odata_select",
            "odata_filter",
            "tenant",
            "token_version",
            "grant_type",
            "client_id",
            "secret_expires_on",
            "token_url",
            "authorize_url",
            "redirect_url",
            "scope",
            "resource",
            "credential_type",
        ]
        widgets = {
            "secret_expires_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "entity": forms.TextInput(attrs={"list": "entity-catalogue"}),
            "odata_filter": forms.TextInput(),
            "odata_select": forms.TextInput(),
        }
        help_texts = {
            "service_url": f"{DEFAULT_CLOUD.graph_base}, /beta, or a national cloud.",
            "entity": "Pick from the list or type a path, e.g. groups/{id}/members.",
            "item_url": "How one item is addressed; must contain {entity} and {key}.",
            "tenant": "Directory (tenant) ID, or a verified domain such as contoso.onmicrosoft.com.",
            "client_id": "Application (client) ID from the app registration's overview.",
            "token_url": "The OAuth 2.0 token endpoint (the app registration's Endpoints): pasted, it fills the "
            "tenant, version and scope or resource; filled from the tenant and version when left blank.",
            "authorize_url": "Only used by the authorization code grant; filled when left blank.",
            "redirect_url": "The dashboard's own callback; register it on the app.",
            "scope": f"v2 endpoint, e.g. {DEFAULT_CLOUD.graph_resource}/.default",
            "resource": f"v1 endpoint, e.g. {DEFAULT_CLOUD.graph_resource}",
            "credential_type": "With a certificate, upload it on the connection's page after saving; "
            "no secret is needed then.",
        }

    sections = (
        ("Connection", ("name", "team", "service_url", "entity", "item_url", "odata_select", "odata_filter")),
        (
            "OAuth2",
            (
                "tenant",
                "token_version",
                "grant_type",
                "client_id",
                "token_url",
                "authorize_url",
                "redirect_url",
                "scope",
                "resource",
            ),
        ),
        ("Client secret", ("credential_type", "client_secret", "secret_expires_on")),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.warnings: list[str] = []
        self.secret_replaced = False
        team = cast(forms.ModelChoiceField, self.fields["team"])
        team.queryset = admin_teams(user)
        team.empty_label = None
        cast(forms.CharField, self.fields["name"]).max_length = 100
        self.fields["redirect_url"].initial = default_redirect_url()
        self.fields["redirect_url"].show_hidden_initial = False
        if self.instance._state.adding:
            self.fields["client_secret"].help_text = "The secret's Value column, not its Secret ID."
        else:
            state = self.instance.secret_state
            self.fields["client_secret"].help_text = {
                "saved": "Saved — leave blank to keep it; type a new value to replace it.",
                "unreadable": "The saved secret is unreadable with the configured keys — re-enter it.",
                "none": "No secret saved yet.",
            }[state]
        for name in ("token_url", "authorize_url", "scope", "resource", "redirect_url"):
            self.fields[name].widget.attrs["data-auto"] = name
        self.fields["credential_type"].required = False  # a form without it keeps what is saved
        self.fields["tenant"].required = False  # may come from a pasted token endpoint (see clean)

    @property
    def sign_in_changed(self) -> bool:
        """A new secret or another tenant, app, endpoint or scope: the saved token no longer proves it."""
        return self.secret_replaced or bool(SIGN_IN_FIELDS.intersection(self.changed_data))

    @property
    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(title, [self[name] for name in names]) for title, names in self.sections]

    @property
    def entities(self) -> tuple[catalogue.Entity, ...]:
        return catalogue.LISTED

    # --- the secret and the whole form --------------------------------------------------------

    def clean_credential_type(self) -> str:
        return self.cleaned_data.get("credential_type") or self.instance.credential_type or "secret"

    def clean_client_secret(self) -> str:
        secret = self.cleaned_data.get("client_secret", "")
        certificate = self.cleaned_data.get("credential_type") == "certificate"
        if self.instance._state.adding and not secret and not certificate:
            raise ValidationError("Enter the client secret's value (Certificates & secrets → Value).")
        if secret and GUID.match(secret):
            self.warnings.append(
                "The client secret looks like a GUID: that is usually the secret's ID, not its value. "
                "If token requests fail with AADSTS7000215, copy the Value column instead."
            )
        return secret

    def clean_tenant(self) -> str:
        if not (self.cleaned_data.get("tenant") or "").strip():
            return ""  # read from a pasted token endpoint in clean(), or asked for there
        return super().clean_tenant()

    def _read_token_endpoint(self, data: dict[str, Any]) -> None:
        """A pasted token endpoint gives the tenant (when none was typed) and the version."""
        parsed = (
            tokenclient.parse_token_endpoint(data.get("token_url") or "") if not self.has_error("token_url") else None
        )
        if parsed is not None:
            tenant, version = parsed
            if not data.get("tenant") and not self.has_error("tenant"):
                self.cleaned_data["tenant"] = tenant
                try:
                    data["tenant"] = super().clean_tenant()
                except ValidationError as error:
                    self.add_error("token_url", error)
            elif data.get("tenant") and tenant.lower() != data["tenant"].lower():
                self.add_error(
                    "token_url",
                    f"This token endpoint is for tenant {tenant}, but the Directory (tenant) ID is "
                    f"{data['tenant']}: make them the same.",
                )
            data["token_version"] = version
        if not data.get("tenant") and not self.has_error("tenant"):
            self.add_error(
                "tenant",
                "Enter the Directory (tenant) ID, or paste the OAuth 2.0 token endpoint below: the tenant is read from it.",
            )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what the form's own clean() left (it returns that dict)
        self._read_token_endpoint(data)
        team, name = data.get("team"), data.get("name")
        if team and name:
            clash = Connection.objects.filter(team=team, name__iexact=name).exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error("name", f"A connection named “{name}” already exists in {team}.")
        self._fill_defaults(data)
        return data

    def _fill_defaults(self, data: dict[str, Any]) -> None:
        """Blank token/authorise URL, scope or resource: derive them as the form's helpers would."""
        tenant, version, service = data.get("tenant"), data.get("token_version"), data.get("service_url")
        if not (tenant and version and service) or self.has_error("service_url"):
            return
        token_url, authorize_url = tokenclient.tenant_urls(tenant, version, login_base_for(service))
        for name, value in (("token_url", token_url), ("authorize_url", authorize_url)):
            if not data.get(name) and not self.has_error(name):
                data[name] = value
                try:
                    outbound.check_url(value, outbound_policy())
                except outbound.DisallowedURL as error:
                    self.add_error(name, error.message)
        if version == Connection.TokenVersion.V2 and not data.get("scope"):
            data["scope"] = tokenclient.default_scope_or_resource("v2", service)
        if version == Connection.TokenVersion.V1 and not data.get("resource"):
            data["resource"] = tokenclient.default_scope_or_resource("v1", service)
        if not data.get("redirect_url") and not self.has_error("redirect_url"):
            data["redirect_url"] = default_redirect_url()

    def save(self, commit: bool = True) -> Connection:
        connection = super().save(commit=False)
        secret = self.cleaned_data.get("client_secret")
        if secret:
            connection.client_secret = secret
            self.secret_replaced = True
        if connection._state.adding:
            connection.created_by = self.user
        connection.updated_by = self.user
        if commit:
            connection.save()
        return connection
