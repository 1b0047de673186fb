"""A user sign-in (authorization code) that did not complete."""

from __future__ import annotations

from microsoft.diagnoses.core import Action, Diagnosis, Severity, Step, register

CRASHED = register("signin.crashed", Severity.ERROR, Action.SIGN_IN)
# The rest of the key is the error the authorise endpoint sent back (access_denied, invalid_request…).
RETURNED_ERROR = register("signin.*", Severity.ERROR, Action.SIGN_IN)


def crashed() -> Diagnosis:
    return CRASHED.build(
        title="Sign-in stopped on an unexpected error",
        explanation="Redeeming the sign-in code hit an error the dashboard does not recognise; the details are in the "
        "web server's log. Nothing was saved.",
        steps=[Step("Press Sign in with Microsoft to try again.", action=Action.SIGN_IN)],
    )


def returned_error(error: str, description: str) -> Diagnosis:
    """The authorise endpoint redirected back with ``error`` (the user cancelled, consent refused…)."""
    cancelled = error == "access_denied"
    return RETURNED_ERROR.build(
        key=f"signin.{error or 'error'}",
        severity=Severity.WARNING if cancelled else Severity.ERROR,
        title="Sign-in was cancelled" if cancelled else "Sign-in did not complete",
        explanation=(
            "The person signing in cancelled, or declined the permissions the app asks for. Nothing was saved."
            if cancelled
            else "Microsoft's sign-in page sent the browser back with an error instead of a code. Nothing was saved."
        ),
        evidence=[("Error", error or "unknown"), ("Description", description[:300] or "none")],
        steps=[Step("Press Sign in with Microsoft to try again.", action=Action.SIGN_IN)],
    )
