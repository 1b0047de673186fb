"""Graph's front door: faults, bearer-token checks, permission checks, then the data side.

Everything that makes a Graph answer look like Graph's and that does not depend on the data
lives here: the 401/403 bodies, throttling and 5xx answers, and the headers on every response.
"""

from __future__ import annotations

import json
import uuid
from email.utils import formatdate
from typing import Any

from . import batch
from .costs import Charge, Meter, hold, is_identity
from .faults import Fault
from .graph import Caller, GraphApi
from .permissions import basic_properties, required, satisfied
from .tokens import Signer, TokenRejected
from .wire import GRAPH_SUCCESS_CONTENT_TYPE, Request, Response, graph_error

GRAPH_VERSIONS = ("v1.0", "beta")
WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)
AGS_DIAGNOSTIC = json.dumps(
    {
        "ServerInfo": {
            "DataCenter": "West Europe",
            "Slice": "E",
            "Ring": "5",
            "ScaleUnit": "003",
            "RoleInstance": "AM2PEPF0001C7A5",
        }
    },
    separators=(",", ":"),
)
_FAULTS = {
    429: ("TooManyRequests", "Please retry again later."),
    500: ("generalException", "General exception while processing."),
    502: ("BadGateway", "The gateway received an invalid response from the upstream server."),  # a guess: undocumented
    503: ("serviceNotAvailable", "Service is temporarily unavailable. Please retry after some time."),
    504: ("UnknownError", "The gateway did not receive a response from the upstream server in time."),
}


def split_graph_path(path: str) -> tuple[str, str] | None:
    """``/v1.0/users/x`` -> (``v1.0``, ``/users/x``); None for paths that are not Graph's."""
    for version in GRAPH_VERSIONS:
        prefix = "/" + version
        if path == prefix or path.startswith(prefix + "/"):
            return version, path[len(prefix) :] or "/"
    return None


def _is_me(rest: str) -> bool:
    return rest == "/me" or rest.startswith("/me/")


class FrontDoor:
    def __init__(self, signer: Signer, graph: GraphApi, meter: Meter) -> None:
        self.signer = signer
        self.graph = graph
        self.meter = meter

    def handle(self, req: Request, fault: Fault | None) -> Response:
        version, rest = split_graph_path(req.path) or ("v1.0", "/")
        request_id = str(uuid.uuid4())
        client_request_id = req.header("client-request-id") or request_id
        ids = {"request_id": request_id, "client_request_id": client_request_id}
        with self.meter.serving():
            if fault is not None and fault.status is not None:
                response = self._fault(fault, **ids)
            elif rest.rstrip("/").lower() == "/$batch":
                response = batch.serve(req, version, lambda inner: self._timed(inner, ids))
            else:
                response, seconds = self._timed(req, ids)
                hold(seconds)
                if fault is not None and fault.next_link is not None and isinstance(response.body, dict):
                    response.body["@odata.nextLink"] = fault.next_link
        return self._decorate(response, request_id, client_request_id)

    def _timed(self, req: Request, ids: dict[str, Any]) -> tuple[Response, float]:
        """One request through the front door, and the latency the cost model gives its answer
        (not yet slept: a batch holds only its slowest request's time)."""
        version, rest = split_graph_path(req.path) or ("v1.0", "/")
        response, app_id = self._serve(req, version, rest, ids)
        seconds = self.meter.settings.seconds(*_shape(response)) if response.status != 429 else 0.0
        if app_id and seconds:
            self.meter.record_latency(app_id, seconds)
        return response, seconds

    def _serve(self, req: Request, version: str, rest: str, ids: dict[str, Any]) -> tuple[Response, str]:
        """The answer and the calling app's id ("" when the token was refused)."""
        auth = req.header("authorization").strip()
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        try:
            claims = self.signer.verify_graph_token(token)
        except TokenRejected as rejected:
            refused = graph_error(
                401,
                "InvalidAuthenticationToken",
                rejected.reason,
                headers={"WWW-Authenticate": WWW_AUTHENTICATE},
                **ids,
            )
            return refused, ""
        app_id = str(claims.get("appid") or claims.get("azp") or "")
        if not is_identity(rest):
            return self._authorized(req, version, rest, claims, ids), app_id
        charge = self.meter.charge(app_id, req.method, rest, req.query)
        if charge.throttled:
            return _throttled(charge, ids), app_id
        response = self._authorized(req, version, rest, claims, ids)
        response.headers["x-ms-resource-unit"] = str(charge.cost)
        if charge.limit_fraction is not None:
            response.headers["x-ms-throttle-limit-percentage"] = f"{charge.limit_fraction:.2f}"
        return response, app_id

    def _authorized(
        self, req: Request, version: str, rest: str, claims: dict[str, Any], ids: dict[str, Any]
    ) -> Response:
        delegated = claims.get("idtyp") == "user" or "scp" in claims
        roles = frozenset(claims.get("roles") or ())
        scopes = frozenset(str(claims.get("scp") or "").split())
        if _is_me(rest) and not delegated:
            return graph_error(
                400, "BadRequest", "/me request is only valid with delegated authentication flow.", **ids
            )
        requirement = required(rest)
        if requirement is not None and not satisfied(
            requirement, set() if delegated else set(roles), set(scopes) if delegated else set()
        ):
            return graph_error(403, requirement.denied_code, requirement.denied_message, **ids)
        caller = Caller(
            app_id=str(claims.get("appid") or claims.get("azp") or ""),
            roles=frozenset() if delegated else roles,
            scopes=scopes if delegated else frozenset(),
            user_id=str(claims["oid"]) if delegated and claims.get("oid") else None,
        )
        response = self.graph.handle(req, version, rest, caller)
        visible = (
            basic_properties(requirement, set() if delegated else set(roles), set(scopes) if delegated else set())
            if requirement is not None
            else None
        )
        return _only_basic(response, visible) if visible is not None else response

    def _fault(self, fault: Fault, request_id: str, client_request_id: str) -> Response:
        assert fault.status is not None
        if fault.location is not None:
            return Response(fault.status, b"", {"Location": fault.location}, "text/html; charset=utf-8")
        if fault.body is not None:  # what a gateway or proxy in front of Graph may answer instead
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return Response(fault.status, fault.body, headers, fault.content_type)
        code, message = _FAULTS.get(fault.status, _FAULTS[500])
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        response = graph_error(
            fault.status, code, message, headers=headers, request_id=request_id, client_request_id=client_request_id
        )
        if fault.status == 429:
            assert isinstance(response.body, dict)
            response.body["error"]["innerError"].update(
                {"code": "429", "message": "Please retry after", "status": "429"}
            )
        return response

    def _decorate(self, response: Response, request_id: str, client_request_id: str) -> Response:
        """The headers Graph puts on every answer; error bodies carry the same request ids."""
        body: Any = response.body
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            inner = body["error"].setdefault("innerError", {})
            inner["request-id"] = request_id
            inner["client-request-id"] = client_request_id
        headers = {
            **response.headers,
            "request-id": request_id,
            "client-request-id": client_request_id,
            "x-ms-ags-diagnostic": AGS_DIAGNOSTIC,
            "Strict-Transport-Security": "max-age=31536000",
            "Date": formatdate(usegmt=True),
        }
        content_type = response.content_type
        if 200 <= response.status < 300:
            if content_type.startswith("application/json"):
                content_type = GRAPH_SUCCESS_CONTENT_TYPE
            headers.update({"OData-Version": "4.0", "Cache-Control": "no-cache"})
        return Response(response.status, body, headers, content_type)


def _throttled(charge: Charge, ids: dict[str, Any]) -> Response:
    """Past the app + tenant budget: 429 with Retry-After and the documented scope and reason headers."""
    code, message = _FAULTS[429]
    response = graph_error(
        429,
        code,
        message,
        headers={
            "Retry-After": str(charge.retry_after),
            "x-ms-throttle-scope": charge.scope,
            "x-ms-throttle-information": "ResourceUnitLimitExceeded",
        },
        **ids,
    )
    assert isinstance(response.body, dict)
    response.body["error"]["innerError"].update({"code": "429", "message": "Please retry after", "status": "429"})
    return response


def _shape(response: Response) -> tuple[int, int]:
    """(items returned, properties per item) of an answer, for the latency model."""
    body = response.body
    if not isinstance(body, dict) or "error" in body:
        return 0, 0
    values = body.get("value")
    items = values if isinstance(values, list) else [body]
    dicts = [i for i in items if isinstance(i, dict)]
    if not dicts:
        return len(items), 0
    properties = max(sum(1 for k in i if "@" not in k) for i in dicts[:3])
    return len(items), properties


def _only_basic(response: Response, visible: frozenset[str]) -> Response:
    """Properties beyond a basic permission's come back as null (annotations such as ``@removed`` stay)."""
    body = response.body
    if not (200 <= response.status < 300) or not isinstance(body, dict):
        return response
    items = body["value"] if isinstance(body.get("value"), list) else [body]
    for item in items:
        if isinstance(item, dict):
            for key in list(item):
                if "@" not in key and key not in visible:
                    item[key] = None
    return response
