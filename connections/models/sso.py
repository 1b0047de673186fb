"""Who signed in with Microsoft, and which Entra app roles or groups give which team and role."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .teams import Role, Team


class EntraIdentity(models.Model):
    """The Entra account behind a dashboard user, matched by tenant id + object id (``tid`` + ``oid``).

    Never by e-mail or UPN: both can change or be reused in Entra, the object id cannot.
    Display name and UPN are copied at every sign-in for audit entries and the admin pages.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="entra_identity")
    tenant_id = models.CharField("tenant id (tid)", max_length=36)
    object_id = models.CharField("object id (oid)", max_length=36)
    upn = models.CharField("user principal name", max_length=255, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    roles = models.JSONField("app roles at the last sign-in", default=list, blank=True)
    groups = models.JSONField("groups at the last sign-in", default=list, blank=True)
    last_sign_in_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant_id", "object_id"], name="one_user_per_entra_account")]
        verbose_name = "Entra ID account"

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """``Ada Lovelace (ada@contoso.com)``, as audit entries name the person."""
        if self.display_name and self.upn:
            return f"{self.display_name} ({self.upn})"
        return self.display_name or self.upn or self.object_id


def person_label(user: Any) -> str:
    """How audit entries and pages name a person: display name and UPN for Entra accounts."""
    try:
        return user.entra_identity.label
    except EntraIdentity.DoesNotExist:
        return user.get_username()


class ClaimMapping(models.Model):
    """One Entra app role value or group object id → a role in a team.

    A signed-in person's teams are exactly what their token's ``roles`` and ``groups`` map to
    (the highest role wins per team); the mapping is applied at every sign-in.
    """

    class Claim(models.TextChoices):
        ROLE = "roles", "App role (roles claim)"
        GROUP = "groups", "Group object id (groups claim)"

    claim = models.CharField(max_length=10, choices=Claim.choices, default=Claim.ROLE)
    value = models.CharField(
        max_length=255, help_text="The app role's value (e.g. graphconn.finance.admin) or the group's object id."
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="claim_mappings")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["claim", "value", "team"], name="one_mapping_per_claim_and_team")
        ]
        ordering = ["team__name", "claim", "value"]
        verbose_name = "Entra role or group mapping"

    def __str__(self) -> str:
        return f"{self.get_claim_display()} {self.value} → {self.role} of {self.team}"

    def clean(self) -> None:
        self.value = (self.value or "").strip()
        if not self.value:
            raise ValidationError({"value": "Enter the app role value or the group object id."})
        if any(c.isspace() for c in self.value):
            raise ValidationError({"value": "App role values and group ids contain no spaces."})
        if self.claim == self.Claim.GROUP:
            try:
                self.value = str(uuid.UUID(self.value))
            except ValueError:
                raise ValidationError(
                    {
                        "value": "A group is named by its object id, a GUID such as "
                        "0b9f4d9e-8f3c-4c8e-9a6a-1d2e3f4a5b6c (Entra ID > Groups > the group > Object ID)."
                    }
                ) from None
