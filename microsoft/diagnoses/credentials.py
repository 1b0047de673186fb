"""The credential the dashboard holds cannot be used: no certificate uploaded, or a saved secret or
private key that no configured encryption key decrypts. Nothing is sent to Microsoft then."""

from __future__ import annotations

from microsoft.diagnoses.core import Action, Diagnosis, Severity, Step, register

CERTIFICATE_MISSING = register("token.certificate_missing", Severity.ERROR, Action.EDIT_SECRET)
CERTIFICATE_KEY_UNREADABLE = register("token.certificate_key_unreadable", Severity.ERROR, Action.EDIT_SECRET)
SECRET_UNREADABLE = register("token.secret_unreadable", Severity.ERROR, Action.EDIT_SECRET)

_ADD_THE_OLD_KEY_BACK = (
    "If the old key still exists, add it back to FIELD_ENCRYPTION_KEYS (after the newest) "
    "and run manage.py rotate_encryption_keys."
)


def certificate_missing(connection_name: str) -> Diagnosis:
    return CERTIFICATE_MISSING.build(
        title="No certificate is uploaded for this connection",
        explanation=f"{connection_name} is set to sign in with a certificate, but none is saved. Nothing was sent to "
        "Microsoft.",
        evidence=[("Credential", "certificate (private_key_jwt)")],
        steps=[
            Step("Upload the certificate and its private key (PEM, or one PKCS#12 file).", action=Action.EDIT_SECRET)
        ],
    )


def certificate_key_unreadable(where: str) -> Diagnosis:
    return CERTIFICATE_KEY_UNREADABLE.build(
        title="The saved private key is unreadable with the configured keys",
        explanation="The certificate's private key stored for this connection cannot be decrypted with any key in "
        "FIELD_ENCRYPTION_KEYS (a key was probably removed before the values were rotated). Nothing was sent "
        "to Microsoft.",
        evidence=[("Where", where)],
        steps=[
            Step("Upload the certificate and its private key again.", action=Action.EDIT_SECRET),
            Step(_ADD_THE_OLD_KEY_BACK),
        ],
    )


def secret_unreadable(where: str) -> Diagnosis:
    return SECRET_UNREADABLE.build(
        title="The saved secret is unreadable with the configured keys",
        explanation="The client secret stored for this connection cannot be decrypted with any key in "
        "FIELD_ENCRYPTION_KEYS (a key was probably removed before the secrets were rotated). "
        "Nothing was sent to Microsoft.",
        evidence=[("Where", where)],
        steps=[
            Step("Edit the connection and enter the client secret again.", action=Action.EDIT_SECRET),
            Step(_ADD_THE_OLD_KEY_BACK),
        ],
    )
