"""Read an access token's claims FOR DISPLAY ONLY.

Nothing here verifies a signature, issuer or audience: Graph tokens are opaque to clients and only
Graph validates them (docs/microsoft-wire-facts.md, "Access tokens"). The token page shows what the token says about itself
(audience, tenant, app, lifetime, roles or scp) so people can see which permissions it carries.
Never use these values to decide who may do what.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


@dataclass(frozen=True)
class Claims:
    """What a token says about itself. When ``readable`` is False, ``problem`` says why and every
    other field is empty."""

    readable: bool
    problem: str = ""
    audience: str | None = None
    issuer: str | None = None
    tenant_id: str | None = None
    app_id: str | None = None
    app_display_name: str | None = None
    object_id: str | None = None
    issued_at: datetime | None = None
    not_before: datetime | None = None
    expires_at: datetime | None = None
    version: str | None = None
    token_kind: str | None = None  # "app" or "user"
    roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    upn: str | None = None
    name: str | None = None
    payload: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def grant_kind(self) -> str | None:
        """``"app"`` or ``"delegated"``, the words diagnostics use for the two kinds of token."""
        return {"app": "app", "user": "delegated"}.get(self.token_kind or "")


def _unreadable(problem: str) -> Claims:
    return Claims(readable=False, problem=problem)


def _b64_json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def decode(token: str | None) -> Claims:
    """Decode a JWT's header and payload without verifying anything. Never raises."""
    if not token or not isinstance(token, str):
        return _unreadable("No token.")
    parts = token.strip().split(".")
    if len(parts) == 5:
        return _unreadable("Not a readable JWT: the token is encrypted.")
    if len(parts) != 3:
        return _unreadable("Not a readable JWT: the token is opaque (not three dot-separated parts).")
    try:
        header = _b64_json(parts[0])
        payload = _b64_json(parts[1])
    except (ValueError, UnicodeError, binascii.Error):
        return _unreadable("Not a readable JWT: its header or payload is not base64-encoded JSON.")
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return _unreadable("Not a readable JWT: its header or payload is not a JSON object.")
    roles = payload.get("roles")
    scp = payload.get("scp")
    scopes = tuple(scp.split()) if isinstance(scp, str) else ()
    role_list = tuple(str(r) for r in roles) if isinstance(roles, list) else ()
    return Claims(
        readable=True,
        audience=_text(payload.get("aud")),
        issuer=_text(payload.get("iss")),
        tenant_id=_text(payload.get("tid")),
        app_id=_text(payload.get("appid") or payload.get("azp")),
        app_display_name=_text(payload.get("app_displayname")),
        object_id=_text(payload.get("oid")),
        issued_at=_when(payload.get("iat")),
        not_before=_when(payload.get("nbf")),
        expires_at=_when(payload.get("exp")),
        version=_text(payload.get("ver")),
        token_kind=_kind(payload, scopes),
        roles=role_list,
        scopes=scopes,
        upn=_text(payload.get("upn") or payload.get("preferred_username") or payload.get("unique_name")),
        name=_text(payload.get("name")),
        payload=payload,
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _when(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _kind(payload: dict[str, Any], scopes: tuple[str, ...]) -> str | None:
    """``idtyp`` when Entra sends it; otherwise a token with ``scp`` acts for a user."""
    idtyp = payload.get("idtyp")
    if idtyp in ("app", "user"):
        return idtyp
    if scopes:
        return "user"
    if "roles" in payload or "appid" in payload or "azp" in payload:
        return "app"
    return None


def permissions(claims: Claims) -> frozenset[str]:
    """The permissions a token carries: its ``roles`` (application) and ``scp`` (delegated)."""
    return frozenset(claims.roles) | frozenset(claims.scopes)


def diff(old: Iterable[str], new: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """``(gained, lost)`` between an old and a new token's permissions."""
    old_set, new_set = frozenset(old), frozenset(new)
    return new_set - old_set, old_set - new_set
