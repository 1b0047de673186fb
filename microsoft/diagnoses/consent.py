"""Admin consent that Entra ID sent back without a grant (declined, or an error)."""

from __future__ import annotations

import re

from microsoft.diagnoses.core import Action, Context, Diagnosis, Severity, Step, register
from microsoft.tokenclient import portal_api_permissions_url

# The rest of the key is the error Entra sent back (access_denied, invalid_request…).
NOT_GRANTED = register("consent.*", Severity.ERROR, Action.ADMIN_CONSENT, Action.OPEN_LINK)


def not_granted(error: str, description: str, ctx: Context) -> Diagnosis:
    """Entra came back with ``error`` instead of a grant: what happened and the next step."""
    code = re.search(r"AADSTS\d+", description)
    declined = error in ("access_denied", "permission_denied") or bool(code and code.group(0) == "AADSTS65004")
    steps = [Step("Press Grant admin consent again and choose Accept.", action=Action.ADMIN_CONSENT)]
    if declined:
        title = "Admin consent was not granted"
        why = (
            "The administrator cancelled or declined the consent page, so nothing was granted and the "
            "connection is unchanged. Only a Global Administrator, Privileged Role Administrator or "
            "Cloud Application Administrator can grant consent for the whole organisation: ask one "
            "to open the consent link (or to grant it on the app's API permissions page) if you "
            "cannot."
        )
    else:
        title = "Admin consent did not complete"
        why = (
            "Microsoft's consent page sent the browser back with an error instead of a grant, so "
            "nothing was granted and the connection is unchanged. Microsoft's words are below."
        )
    url = ctx.permissions_page_url or portal_api_permissions_url(ctx.client_id, ctx.portal_cloud)
    steps.append(Step("Or grant it on the app's API permissions page.", url=url))
    return NOT_GRANTED.build(
        key=f"consent.{error or 'error'}",
        severity=Severity.WARNING if declined else Severity.ERROR,
        title=title,
        explanation=why,
        evidence=[
            ("Error", error or "unknown"),
            ("Description", description or "none"),
            ("AADSTS code", code.group(0) if code else "none"),
        ],
        steps=steps,
    )
