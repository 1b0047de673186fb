"""Forms for credentials beyond the secret: a certificate upload, and a team's alert channel."""
from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from microsoft import certificates, outbound
from connections.alerts import channels
from connections.library.forms import write_only_secret
from connections.models import ConnectionCertificate, NotificationChannel

_NEVER_SHOWN = "Files and passwords are never sent back to your browser: choose them again after an error."


class CertificateForm(forms.Form):
    """PEM certificate + key (or one PEM holding both), or a PKCS#12 file with its password."""

    certificate_file = forms.FileField(label="Certificate (PEM or DER)", required=False,
                                       help_text="A .pem/.crt/.cer file; it may also hold the private key.")
    private_key_file = forms.FileField(label="Private key (PEM)", required=False,
                                       help_text="Leave empty when the certificate file holds the key.")
    pkcs12_file = forms.FileField(label="…or a PKCS#12 file (.pfx/.p12)", required=False)
    pkcs12_password = write_only_secret("Password of the PKCS#12 file or the encrypted key")
    assertion_form = forms.ChoiceField(label="Client assertion", choices=ConnectionCertificate.AssertionForm.choices,
                                       initial=ConnectionCertificate.AssertionForm.PS256)

    never_shown = _NEVER_SHOWN

    def _read(self, name: str) -> bytes | None:
        upload = self.cleaned_data.get(name)
        if not upload:
            return None
        if upload.size > certificates.MAX_UPLOAD_BYTES:
            self.add_error(name, "That file is too large for a certificate or key (64 KiB at most).")
            return None
        return upload.read()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        cert, key, p12 = (self._read(n) for n in ("certificate_file", "private_key_file", "pkcs12_file"))
        if self.errors:
            return data
        try:
            loaded = certificates.load(certificate=cert, private_key=key, pkcs12_data=p12,
                                       password=data.get("pkcs12_password") or "")
        except certificates.CertificateError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
            return data
        if loaded.not_after <= timezone.now():
            self.add_error("pkcs12_file" if p12 else "certificate_file",
                           f"This certificate expired on {loaded.not_after:%Y-%m-%d}: Entra ID refuses assertions "
                           "signed with it. Create a new certificate and upload that.")
            return data
        data["loaded"] = loaded
        return data


class ChannelForm(forms.ModelForm):
    """A team's notification channel. The webhook URL is write-only (it alone lets anyone post)."""

    url = write_only_secret("Webhook URL", "https://… as the service shows it; its host must be in "
                                           "ALERT_WEBHOOK_HOSTS. Never shown again.")

    class Meta:
        model = NotificationChannel
        fields = ["team", "name", "kind", "emails"]
        help_texts = {"emails": "Email only: addresses separated by commas."}

    def __init__(self, *args: Any, teams: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["team"].queryset = teams
        self.fields["team"].empty_label = None
        self.order_fields(["team", "name", "kind", "url", "emails"])

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean_emails(self) -> str:
        addresses = [a.strip() for a in (self.cleaned_data.get("emails") or "").split(",") if a.strip()]
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError(f"“{address}” is not an email address.") from None
        return ", ".join(addresses)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind, url = data.get("kind"), (data.get("url") or "").strip()
        if kind == NotificationChannel.Kind.EMAIL:
            if not data.get("emails") and not self.has_error("emails"):
                self.add_error("emails", "Enter at least one email address.")
        elif kind:
            if not url:
                self.add_error("url", "Enter the webhook URL.")
            else:
                try:
                    data["host"] = channels.check_webhook_url(url)
                except outbound.DisallowedURL as error:
                    self.add_error("url", error.message)
        team, name = data.get("team"), data.get("name")
        if team and name and NotificationChannel.objects.filter(team=team, name__iexact=name).exists():
            self.add_error("name", f"{team} already has a channel named “{name}”.")
        return data

    def save(self, commit: bool = True) -> NotificationChannel:
        channel = super().save(commit=False)
        if channel.kind != NotificationChannel.Kind.EMAIL:
            channel.url, channel.host, channel.emails = self.cleaned_data["url"].strip(), self.cleaned_data["host"], ""
        else:
            channel.url, channel.host = "", ""
        channel.created_by = self.user
        if commit:
            channel.save()
        return channel
