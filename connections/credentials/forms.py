"""The credential forms: secret inputs that are never sent back, and the certificate upload."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from connections.models import ConnectionCertificate
from microsoft import certificates


def write_only_secret(label: str, help_text: str = "") -> forms.CharField:
    """A secret input that is never rendered back, not even after a validation error."""
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        help_text=help_text,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


_NEVER_SHOWN = "Files and passwords are never sent back to your browser: choose them again after an error."


class CertificateForm(forms.Form):
    """PEM certificate + key (or one PEM holding both), or a PKCS#12 file with its password."""

    certificate_file = forms.FileField(
        label="Certificate (PEM or DER)",
        required=False,
        help_text="A .pem/.crt/.cer file; it may also hold the private key.",
    )
    private_key_file = forms.FileField(
        label="Private key (PEM)", required=False, help_text="Leave empty when the certificate file holds the key."
    )
    pkcs12_file = forms.FileField(label="…or a PKCS#12 file (.pfx/.p12)", required=False)
    pkcs12_password = write_only_secret("Password of the PKCS#12 file or the encrypted key")
    assertion_form = forms.ChoiceField(
        label="Client assertion",
        choices=ConnectionCertificate.AssertionForm.choices,
        initial=ConnectionCertificate.AssertionForm.PS256,
    )

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
        super().clean()
        data = self.cleaned_data  # what the form's own clean() left (it returns that dict)
        cert, key, p12 = (self._read(n) for n in ("certificate_file", "private_key_file", "pkcs12_file"))
        if self.errors:
            return data
        try:
            loaded = certificates.load(
                certificate=cert, private_key=key, pkcs12_data=p12, password=data.get("pkcs12_password") or ""
            )
        except certificates.CertificateError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
            return data
        if loaded.not_after <= timezone.now():
            self.add_error(
                "pkcs12_file" if p12 else "certificate_file",
                f"This certificate expired on {loaded.not_after:%Y-%m-%d}: Entra ID refuses assertions "
                "signed with it. Create a new certificate and upload that.",
            )
            return data
        data["loaded"] = loaded
        return data
