"""Django admin pages of Sign in with Microsoft: the role and group mappings (site superusers only)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from connections.accounts.lockout import ThrottledAdminAuthenticationForm

from ..models import ClaimMapping, EntraIdentity


class AdminLoginForm(ThrottledAdminAuthenticationForm):
    """With password log-in switched off, Django admin's log-in is the superusers' emergency door only."""

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not settings.LOCAL_LOGIN_ENABLED and not user.is_superuser:
            raise ValidationError(
                "Password log-in is switched off on this server; only site superusers may "
                "log in here. Sign in with Microsoft on the dashboard's log-in page.",
                code="local_login_off",
            )


admin.site.login_form = AdminLoginForm


class SuperusersOnly:
    """Who gets which team is a site-wide decision: only superusers see or change these pages."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)


@admin.register(ClaimMapping)
class ClaimMappingAdmin(SuperusersOnly, admin.ModelAdmin):
    list_display = ["value", "claim", "team", "role"]
    list_filter = ["claim", "role", "team"]
    search_fields = ["value", "team__name"]
    fieldsets = [
        (
            None,
            {
                "fields": ["claim", "value", "team", "role"],
                "description": "People who sign in with Microsoft get the teams their token's app roles or groups map "
                "to (the highest role per team), at every sign-in; a role or group removed in Entra "
                "removes the team at their next sign-in.",
            },
        )
    ]


@admin.register(EntraIdentity)
class EntraIdentityAdmin(SuperusersOnly, admin.ModelAdmin):
    list_display = ["display_name", "upn", "user", "tenant_id", "last_sign_in_at"]
    search_fields = ["display_name", "upn", "object_id", "user__username"]
    readonly_fields = ["user", "tenant_id", "object_id", "upn", "display_name", "roles", "groups", "last_sign_in_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
