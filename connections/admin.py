"""Django admin: teams with their members, connections (secret write-only), read-only audit log and jobs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from connections import tokens
from connections.accounts.lockout import ThrottledAdminAuthenticationForm
from connections.credentials.forms import write_only_secret
from connections.library import audit
from connections.library.forms import SIGN_IN_FIELDS, ProfileFieldsMixin

from .models import Alert, ApiToken, AuditEntry, Connection, Job, Membership, NotificationChannel, SyncRun, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


admin.site.login_form = ThrottledAdminAuthenticationForm


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


class ConnectionAdminForm(ProfileFieldsMixin, forms.ModelForm):
    """The dashboard form's field checks; the stored secret is never rendered (blank keeps it)."""

    new_client_secret = write_only_secret(
        "Client secret", "Write-only. Leave blank to keep the saved secret; type a value to replace it."
    )

    class Meta:
        model = Connection
        exclude = ["client_secret"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "redirect_url" in self.fields:  # a callable default would otherwise count as a change
            self.fields["redirect_url"].show_hidden_initial = False


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionAdminForm
    list_display = ["name", "team", "entity", "grant_type", "token_version", "secret_expires_on", "updated_at"]
    list_filter = ["team", "grant_type", "token_version"]
    search_fields = ["name", "tenant", "client_id", "entity"]
    readonly_fields = ["id", "secret_state", "created_by", "created_at", "updated_by", "updated_at"]
    fieldsets = [
        (
            "Connection",
            {"fields": ["id", "name", "team", "service_url", "entity", "item_url", "odata_select", "odata_filter"]},
        ),
        (
            "OAuth2",
            {
                "fields": [
                    "tenant",
                    "token_version",
                    "grant_type",
                    "client_id",
                    "token_url",
                    "authorize_url",
                    "redirect_url",
                    "scope",
                    "resource",
                ]
            },
        ),
        ("Client secret", {"fields": ["secret_state", "new_client_secret", "secret_expires_on"]}),
        ("History", {"fields": ["created_by", "created_at", "updated_by", "updated_at"]}),
    ]

    @method_decorator(sensitive_post_parameters("new_client_secret"))  # masked in error reports
    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        return super().changeform_view(request, *args, **kwargs)

    @admin.display(description="Saved secret")
    def secret_state(self, obj: Connection) -> str:
        return {
            "saved": "•••• saved",
            "none": "none",
            "unreadable": "unreadable with the configured keys — re-enter it",
        }[obj.secret_state]

    def save_model(self, request: HttpRequest, obj: Connection, form: Any, change: bool) -> None:
        secret = form.cleaned_data.get("new_client_secret")
        if secret:
            obj.client_secret = secret
        assert request.user.is_authenticated  # the admin serves signed-in staff only
        if not change:
            obj.created_by = request.user
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
        changed = [name for name in form.changed_data if name != "new_client_secret"]
        if not change:
            audit.record(request, obj, audit.Action.CREATED, fields=changed, detail="in Django admin")
            return
        if changed:
            audit.record(request, obj, audit.Action.EDITED, fields=changed, detail="in Django admin")
        if secret:
            audit.record(request, obj, audit.Action.SECRET_REPLACED, fields=["client_secret"], detail="in Django admin")
        if secret or SIGN_IN_FIELDS.intersection(changed):
            tokens.discard_saved_token(obj)

    def delete_model(self, request: HttpRequest, obj: Connection) -> None:
        audit.record(request, obj, audit.Action.DELETED, detail="in Django admin")
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            audit.record(request, obj, audit.Action.DELETED, detail="in Django admin")
        super().delete_queryset(request, queryset)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the application; people only read them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "username", "action", "connection_name", "team", "ip"]
    list_filter = ["action", "team"]
    search_fields = ["connection_name", "username", "detail"]
    date_hierarchy = "at"


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "state", "connection", "progress", "requested_by", "worker"]
    list_filter = ["state", "kind"]
    search_fields = ["id", "kind", "message"]


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    """Runs for support work; the records themselves are browsed in the dashboard."""

    list_display = [
        "created_at",
        "connection",
        "entity",
        "mode",
        "status",
        "pages",
        "rows",
        "added",
        "changed",
        "removed",
        "started_by",
    ]
    list_filter = ["status", "mode"]
    search_fields = ["connection__name", "entity"]
    exclude = ["delta_link"]  # internal state, of no use to a reader


@admin.register(NotificationChannel)
class NotificationChannelAdmin(ReadOnlyAdmin):
    """Channels are managed on the dashboard's Alerts page; the webhook URL is never shown."""

    list_display = ["name", "team", "kind", "target", "status", "last_attempt_at"]
    list_filter = ["kind", "status"]
    exclude = ["url"]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "team", "connection", "event", "title"]
    list_filter = ["event", "team"]
    search_fields = ["title"]


import connections.sso.admin  # noqa: E402,F401  (mappings of Sign in with Microsoft)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Personal API tokens, listed without their values (only a hash is stored; not even it is shown).
    Made by their owners on their own page; an admin may only revoke (delete) one."""

    list_display = ["name", "owner", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "owner__username", "prefix"]
    fields = ("name", "owner", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
