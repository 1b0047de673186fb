"""Why a sign-in with Microsoft was refused, in words the person can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from microsoft.tokenclient import TokenError

    from .config import EntraSignIn


class SignInRefused(Exception):
    """Nobody is signed in and no user is created; ``message`` is shown on the page as is.

    ``reason`` is a short code for logs and tests (state, nonce, expired, audience, …). Messages
    never hold a token, code or secret.
    """

    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status

    @classmethod
    def token_endpoint(cls, error: TokenError) -> SignInRefused:
        if error.kind != "aadsts":
            return cls(
                "unreachable", f"Microsoft's sign-in service could not be reached: {error.description}", status=502
            )
        code = f"AADSTS{error.code}: " if error.code and f"AADSTS{error.code}" not in error.description else ""
        hint = (
            "graphconn's own sign-in settings (OIDC_RP_CLIENT_ID, OIDC_RP_CLIENT_SECRET or "
            "OIDC_RP_CLIENT_CERTIFICATE_FILE) were refused; "
            "tell your graphconn administrator."
            if error.error in ("invalid_client", "unauthorized_client")
            else "Start again with Sign in with Microsoft."
        )
        return cls(
            "token_endpoint",
            f"Microsoft refused to complete the sign-in: {code}{error.description[:400]} {hint}",
            status=502 if error.error in ("invalid_client", "unauthorized_client") else 400,
        )

    @classmethod
    def other_tenant(cls, tid: str, config: EntraSignIn) -> SignInRefused:
        allowed = ", ".join(config.allowed_tenants)
        return cls(
            "tenant",
            f"You signed in with an account of another organisation (tenant {tid[:36] or 'unknown'}). "
            f"graphconn accepts accounts of tenant {allowed} only. Sign in with your work account "
            "of that organisation.",
            status=403,
        )


STATE_UNKNOWN = SignInRefused(
    "state",
    "This sign-in answer does not belong to a sign-in started in this browser, or it was already "
    "used (the state value is unknown). Nobody was signed in. Start again with Sign in with Microsoft.",
)
STATE_EXPIRED = SignInRefused(
    "state_expired",
    "This sign-in took longer than ten minutes. Nobody was signed in. Start again with Sign in with Microsoft.",
)
NO_CODE = SignInRefused(
    "no_code",
    "Microsoft's answer carried no authorization code, so nobody can be signed in. Start again "
    "with Sign in with Microsoft.",
)
CANCELLED = SignInRefused("cancelled", "Sign-in was cancelled on Microsoft's page. Nobody was signed in.", status=200)
DISABLED = SignInRefused(
    "disabled", "Your graphconn account is switched off. Ask a graphconn administrator to switch it on.", status=403
)
NOT_CONFIGURED = SignInRefused(
    "not_configured",
    "Sign in with Microsoft is not set up on this server (OIDC_TENANT_ID, OIDC_RP_CLIENT_ID "
    "and OIDC_RP_CLIENT_SECRET). Use the password log-in or ask your graphconn administrator.",
    status=404,
)


def from_error_redirect(error: str, description: str) -> SignInRefused:
    """Microsoft's page sent the browser back with ``error`` instead of a code."""
    if error == "access_denied":
        return CANCELLED
    first_line = description.splitlines()[0][:300] if description else "no description"
    return SignInRefused(
        "error_redirect",
        f"Microsoft's sign-in page answered with an error instead of signing "
        f"you in: {error[:60]}: {first_line}. Nobody was signed in.",
    )
