"""The control API under ``/_sandbox/``: JSON, no auth (a local test tool).

Tests and demos use it to create apps, grant or revoke permissions, add or expire secrets,
change the directory, inject faults and read the request counts.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from typing import TYPE_CHECKING, Any

from . import approles
from .costs import Meter
from .faults import FaultTable
from .portal import Portal
from .tenants import Registry, iso
from .wire import Request, Response

if TYPE_CHECKING:
    from .directory import Directory

DIRECTORY_KINDS = ("users", "groups", "devices")


class RequestLog:
    """Counts of every login and Graph request, by path and by calling client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._total = 0
            self._by_path: Counter[str] = Counter()
            self._by_client: Counter[str] = Counter()
            self._token_requests: Counter[str] = Counter()

    def record(self, path: str, client_id: str | None, token_request: bool) -> None:
        with self._lock:
            self._total += 1
            self._by_path[path] += 1
            if client_id:
                self._by_client[client_id] += 1
                if token_request:
                    self._token_requests[client_id] += 1

    def public(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self._total,
                "by_path": dict(self._by_path),
                "by_client": dict(self._by_client),
                "token_requests": dict(self._token_requests),
            }


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _parse_time(value: Any, name: str) -> dt.datetime:
    if not isinstance(value, str):
        raise ControlError(400, f"{name} must be an ISO 8601 date-time")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ControlError(400, f"{name} must be an ISO 8601 date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _names(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key) or []
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ControlError(400, f"{key} must be a list of permission names")
    return value


class Control:
    def __init__(
        self,
        registry: Registry,
        directory: Directory,
        faults: FaultTable,
        log: RequestLog,
        *,
        initial_delta_lifetime: float,
        meter: Meter,
    ) -> None:
        self.meter = meter
        self.registry = registry
        self.directory = directory
        self.faults = faults
        self.log = log
        self.portal = Portal(registry, directory)
        self._initial_delta_lifetime = initial_delta_lifetime

    def handle(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p][1:]  # drop "_sandbox"
        if parts[:1] == ["portal"]:
            return self.portal.route(req, parts[1:])
        try:
            data = req.json() if req.body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            return Response(400, {"error": "the body must be JSON"})
        if not isinstance(data, dict):
            return Response(400, {"error": "the body must be a JSON object"})
        try:
            status, body = self._route(req.method, parts, data)
        except ControlError as error:
            return Response(error.status, {"error": str(error)})
        return Response(status, body)

    def _route(self, method: str, parts: list[str], data: dict[str, Any]) -> tuple[int, Any]:
        match method, parts:
            case "GET", ["state"]:
                return 200, self.state()
            case "POST", ["reset"]:
                self.reset()
                return 200, self.state()
            case "GET", ["apps"]:
                return 200, [a.public() for a in list(self.registry.apps.values())]
            case "POST", ["apps"]:
                return 201, self.create_app(data)
            case "GET", ["apps", client_id]:
                return 200, self._app(client_id).public()
            case "DELETE", ["apps", client_id]:
                if not self.registry.delete_app(client_id):
                    raise ControlError(404, f"no app {client_id}")
                return 200, {"deleted": client_id}
            case (("POST" | "DELETE"), ["apps", client_id, "grants"]):
                app = self._app(client_id)
                change = self.registry.grant if method == "POST" else self.registry.revoke
                change(app, _names(data, "roles"), _names(data, "scopes"))
                return 200, app.public()
            case (("POST" | "DELETE"), ["apps", client_id, "assignments"]):
                return 200, self.change_assignment(self._app(client_id), data, add=method == "POST")
            case "POST", ["groups", group_id, "members"]:
                return 200, self.change_member(group_id, str(data.get("id") or ""), add=True)
            case "DELETE", ["groups", group_id, "members", user_id]:
                return 200, self.change_member(group_id, user_id, add=False)
            case "POST", ["apps", client_id, "secrets"]:
                app = self._app(client_id)
                expires = (
                    _parse_time(data["expires"], "expires")
                    if data.get("expires")
                    else dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=180)
                )
                secret, value = self.registry.add_secret(app, expires, str(data.get("display_name") or ""))
                return 201, {"client_secret": value, "secret_id": secret.key_id, "end_date_time": iso(secret.end)}
            case "POST", ["apps", client_id, "certificates"]:
                app = self._app(client_id)
                if not isinstance(data.get("certificate"), str):
                    raise ControlError(400, "certificate must be the certificate's PEM text (public part)")
                try:
                    credential = self.registry.add_certificate(
                        app, data["certificate"], str(data.get("display_name") or "")
                    )
                except ValueError as error:
                    raise ControlError(400, str(error)) from None
                return 201, credential.public()
            case "POST", ["apps", client_id, "owners"]:
                app = self._app(client_id)
                owner = self._app(str(data.get("owner_client_id") or client_id))
                with self.registry.lock:
                    app.owners.add(owner.client_id)
                return 200, app.public()
            case "DELETE", ["apps", client_id, "credentials", key_id]:
                if not self.registry.remove_credential(self._app(client_id), key_id):
                    raise ControlError(404, f"no secret or certificate {key_id} on app {client_id}")
                return 200, {"deleted": key_id}
            case "GET", ["faults"]:
                return 200, self.faults.public()
            case "POST", ["faults"]:
                try:
                    fault = self.faults.add(data)
                except (ValueError, TypeError) as error:
                    raise ControlError(400, str(error)) from None
                return 201, fault.public()
            case "DELETE", ["faults"]:
                self.faults.clear()
                return 200, []
            case "GET", ["requests"]:
                return 200, self.log.public()
            case "DELETE", ["requests"]:
                self.log.clear()
                return 200, self.log.public()
            case "GET", ["costs"]:
                return 200, self.meter.public()
            case "POST", ["costs"]:
                try:
                    self.meter.change(data)
                except ValueError as error:
                    raise ControlError(400, str(error)) from None
                return 200, self.meter.public()
            case "DELETE", ["costs"]:
                self.meter.clear()
                return 200, self.meter.public()
            case "GET", ["settings"]:
                return 200, self.settings()
            case "POST", ["settings"]:
                return 200, self.change_settings(data)
            case "POST", [kind] if kind in DIRECTORY_KINDS:
                try:
                    return 201, self.directory.add(kind, data)
                except ValueError as error:
                    raise ControlError(409, str(error)) from None
            case "PATCH", [kind, object_id] if kind in DIRECTORY_KINDS:
                try:
                    item = self.directory.update(kind, object_id, data)
                except ValueError as error:
                    raise ControlError(409, str(error)) from None
                if item is None:
                    raise ControlError(404, f"no {kind[:-1]} {object_id}")
                return 200, item
            case "DELETE", [kind, object_id] if kind in DIRECTORY_KINDS:
                if not self.directory.delete(kind, object_id):
                    raise ControlError(404, f"no {kind[:-1]} {object_id}")
                return 200, {"deleted": object_id}
        raise ControlError(404, f"no control endpoint {method} /_sandbox/{'/'.join(parts)}")

    def _app(self, client_id: str) -> Any:
        app = self.registry.app(client_id)
        if app is None:
            raise ControlError(404, f"no app {client_id}")
        return app

    def create_app(self, data: dict[str, Any]) -> dict[str, Any]:
        redirect_uris = data.get("redirect_uris") or []
        if not isinstance(redirect_uris, list) or not all(isinstance(u, str) for u in redirect_uris):
            raise ControlError(400, "redirect_uris must be a list of URLs")
        roles = _names(data, "roles")
        expires = _parse_time(data["secret_expires"], "secret_expires") if data.get("secret_expires") else None
        app, secret = self.registry.create_app(
            display_name=str(data.get("display_name") or "sandbox app"),
            roles=roles if data.get("grant", True) else [],
            scopes=_names(data, "scopes"),
            redirect_uris=redirect_uris,
            requested_roles=_names(data, "requested_roles") + roles,
            secret_expires=expires,
        )
        app_roles = data.get("app_roles") or []
        if not isinstance(app_roles, list) or not all(isinstance(r, str) and r and " " not in r for r in app_roles):
            raise ControlError(400, "app_roles must be a list of role values without spaces")
        claims = data.get("group_membership_claims")
        if claims is not None and claims not in approles.GROUP_CLAIM_KINDS:
            raise ControlError(400, f"group_membership_claims must be one of {approles.GROUP_CLAIM_KINDS} or null")
        with self.registry.lock:
            app.app_roles, app.group_membership_claims = list(dict.fromkeys(app_roles)), claims
        return {
            "tenant_id": self.registry.tenant_id,
            "client_id": app.client_id,
            "client_secret": secret,
            "secret_id": app.secrets[0].key_id,
            "object_id": app.object_id,
            "service_principal_id": app.sp_id,
        }

    def change_assignment(self, app: Any, data: dict[str, Any], *, add: bool) -> dict[str, Any]:
        """Assign an app role to a user or group (``principal``: UPN or object id), or remove it."""
        principal, role = str(data.get("principal") or ""), str(data.get("role") or "")
        try:
            if add:
                approles.assign(self.registry, self.directory, app, principal, role)
            elif not approles.unassign(self.registry, self.directory, app, principal, role):
                raise ControlError(404, f"{principal} does not hold {role}")
        except approles.AssignmentError as error:
            raise ControlError(404 if "no user" in str(error) else 400, str(error)) from None
        return app.public()

    def change_member(self, group_id: str, user: str, *, add: bool) -> dict[str, Any]:
        try:
            members = approles.change_membership(self.directory, group_id, user, add)
        except approles.AssignmentError as error:
            raise ControlError(404, str(error)) from None
        return {"id": group_id, "members": members}

    def settings(self) -> dict[str, Any]:
        s = self.registry.settings
        return {
            "token_lifetime_seconds": s.token_lifetime,
            "clock_offset_seconds": s.clock_offset,
            "refresh_token_lifetime_seconds": s.refresh_token_lifetime,
            "auth_code_lifetime_seconds": s.code_lifetime,
            "delta_token_lifetime_seconds": self.directory.delta_token_lifetime,
        }

    def change_settings(self, data: dict[str, Any]) -> dict[str, Any]:
        known = {
            "token_lifetime_seconds",
            "refresh_token_lifetime_seconds",
            "auth_code_lifetime_seconds",
            "delta_token_lifetime_seconds",
            "clock_offset_seconds",
        }
        unknown = set(data) - known
        if unknown:
            raise ControlError(400, f"unknown settings: {', '.join(sorted(unknown))}")
        values: dict[str, float] = {}
        for key, value in data.items():
            if key == "clock_offset_seconds" and isinstance(value, int) and not isinstance(value, bool):
                s = self.registry.settings
                s.clock_offset = value  # may be negative: Entra's clock behind
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ControlError(400, f"{key} must be a number of seconds >= 0")
            values[key] = value
        s = self.registry.settings
        s.token_lifetime = int(values.get("token_lifetime_seconds", s.token_lifetime))
        s.refresh_token_lifetime = int(values.get("refresh_token_lifetime_seconds", s.refresh_token_lifetime))
        s.code_lifetime = int(values.get("auth_code_lifetime_seconds", s.code_lifetime))
        if "delta_token_lifetime_seconds" in values:
            self.directory.delta_token_lifetime = float(values["delta_token_lifetime_seconds"])
        return self.settings()

    def state(self) -> dict[str, Any]:
        with self.registry.lock:
            apps = [a.public() for a in self.registry.apps.values()]
        return {
            "tenants": [self.registry.tenant_public()],
            "apps": apps,
            "directory": self.directory.stats(),
            "faults": self.faults.public(),
            "settings": self.settings(),
            "requests": self.log.public()["total"],
        }

    def reset(self) -> None:
        self.registry.reset()
        self.directory.reset()
        self.directory.delta_token_lifetime = self._initial_delta_lifetime
        self.faults.clear()
        self.log.clear()
        self.meter.reset()
