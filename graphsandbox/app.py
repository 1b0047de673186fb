"""The sandbox as one WSGI application: login paths, Graph paths and the control API on one base URL."""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from .approles import ID_TOKEN_OVERRIDES
from .apps import graph_objects
from .control import Control, RequestLog
from .costs import CostSettings, Meter
from .directory import Directory
from .entra import Entra, basic_credentials
from .faults import FaultTable
from .front import FrontDoor, split_graph_path
from .graph import GraphApi
from .tenants import Registry
from .tokens import Signer
from .wire import Request, Response

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class Config:
    users: int = 200
    groups: int | None = None
    devices: int | None = None
    seed: int = 1
    token_lifetime: int = 3600
    extra_redirect_uris: tuple[str, ...] = ()
    costs: CostSettings = field(default_factory=CostSettings)


def request_from_environ(environ: dict[str, Any]) -> Request:
    path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace") or "/"
    raw_query = environ.get("QUERY_STRING", "")
    query = {k: v[-1] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
    return Request(
        method=environ.get("REQUEST_METHOD", "GET").upper(),
        path=path,
        query=query,
        headers=headers,
        body=body,
        base_url=f"{environ.get('wsgi.url_scheme', 'http')}://{host}",
        raw_query=raw_query,
    )


def _client_of(req: Request, token_request: bool) -> str | None:
    """Which app made a request: the form's client_id on login paths, the token's appid on Graph."""
    if token_request:
        basic = basic_credentials(req)
        return (req.form().get("client_id") or (basic[0] if basic else "")).lower() or None
    auth = req.header("authorization")
    parts = auth[7:].strip().split(".") if auth[:7].lower() == "bearer " else []
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    return str(claims.get("appid") or claims.get("azp") or "") or None if isinstance(claims, dict) else None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"


class SandboxApp:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.registry = Registry(
            seed=config.seed, token_lifetime=config.token_lifetime, extra_redirect_uris=config.extra_redirect_uris
        )
        self.directory = Directory(
            tenant_id=self.registry.tenant_id,
            domain=self.registry.domain,
            users=config.users,
            groups=config.groups,
            devices=config.devices,
            seed=config.seed,
        )
        self.signer = Signer()
        self.faults = FaultTable()
        self.log = RequestLog()
        self.entra = Entra(self.registry, self.signer, self.directory)
        self.meter = Meter(config.costs, self.registry.tenant_id, lambda: int(self.directory.stats()["users"]))
        self.front = FrontDoor(self.signer, GraphApi(self.directory, lambda: graph_objects(self.registry)), self.meter)
        self.control = Control(
            self.registry,
            self.directory,
            self.faults,
            self.log,
            initial_delta_lifetime=self.directory.delta_token_lifetime,
            meter=self.meter,
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        response = self.dispatch(request_from_environ(environ))
        body = response.body_bytes()
        headers = [("Content-Type", response.content_type), *response.headers.items()]
        if not any(k.lower() == "content-length" for k, _ in headers):
            headers.append(("Content-Length", str(len(body))))
        start_response(f"{response.status} {_reason(response.status)}", headers)
        return [body]

    def dispatch(self, req: Request) -> Response:
        path = req.path
        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            return self.control.handle(req)
        if path == "/":
            return Response(302, b"", {"Location": "/_sandbox/portal"}, "text/html; charset=utf-8")
        fault = self.faults.take(path)
        if fault is not None and fault.delay_ms:
            time.sleep(fault.delay_ms / 1000)
        token_request = path.endswith("/token")
        self.log.record(path, _client_of(req, token_request), token_request)
        if split_graph_path(path):
            return self.front.handle(req, fault)
        if fault is not None and fault.status is not None:
            return self.entra.fault(fault.status, fault.retry_after)
        overrides = ID_TOKEN_OVERRIDES.set(fault.id_token_claims if fault is not None else None)
        try:
            return self.entra.route(req) or Response(
                404, {"error": "not_found", "error_description": f"No sandbox endpoint at {path}"}
            )
        finally:
            ID_TOKEN_OVERRIDES.reset(overrides)
