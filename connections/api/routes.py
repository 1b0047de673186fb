"""The REST API under /api/v1/ (django-ninja): connections, actions, jobs, runs, credentials and
the permission planner. Reads go through ``scoping``, work through ``services``; every write is
in the audit log."""

from __future__ import annotations

import logging
import math
import uuid
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.text import slugify
from ninja import NinjaAPI, Query, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer, SessionAuth

from connections.accounts import apitokens
from connections.library import audit
from connections.models import SyncRun
from connections.models.teams import role_in
from microsoft import planner

from . import problems, reads, schemas, scoping, services

log = logging.getLogger("graphconn.api")

RUNS_PER_PAGE = 25
MAX_PAGE_SIZE = 200
SEARCH_MAX = 200

# What each action records in the audit log (the pages' actions name these too).
AUDITED: dict[str, str] = {
    "token": audit.Action.TOKEN_FETCHED,
    "token-refetch": audit.Action.TOKEN_REFETCHED,
    "test": audit.Action.TESTED,
    "sync": audit.Action.SYNCED,
}


class PersonalToken(HttpBearer):
    """``Authorization: Bearer gcp_…``: the token's owner, with their teams and roles."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        locked = apitokens.seconds_locked(request)
        if locked:
            raise problems.ApiProblem("too-many-failures", f"Try again in {locked} seconds.", retry_after=locked)
        found = apitokens.authenticate(request, token)
        if found is None:
            raise problems.ApiProblem(
                "token-invalid", "Create a new token on your API tokens page (the value is shown once)."
            )
        request.user = found.owner
        request.api_token = found  # type: ignore[attr-defined]
        return found.owner


class Session(SessionAuth):
    """The browser's session; its writes need the CSRF token. No session: not authenticated (a
    script's POST without a token is told to authenticate, not that CSRF failed)."""

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)


class Api(NinjaAPI):
    def get_openapi_operation_id(self, operation: Any) -> str:
        """Stable, short operation ids (client generators name methods after them)."""
        return operation.view_func.__name__

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """Problem responses are ``application/problem+json``, as they are sent."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                # Status codes as strings, once each (a route's openapi_extra, written with string keys, wins).
                responses = {str(k): v for k, v in operation.get("responses", {}).items() if not isinstance(k, str)}
                responses.update({k: v for k, v in operation.get("responses", {}).items() if isinstance(k, str)})
                for status, answer in responses.items():
                    content = answer.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        answer["content"] = {problems.CONTENT_TYPE: content["application/json"]}
                operation["responses"] = responses
        return schema


api = Api(
    title="graphconn API",
    version="1",
    description=(
        "Connections, their health and credentials, token and sync actions, runs with their items, "
        "changes and exports. Authenticate with a personal API token (`Authorization: Bearer gcp_…`, "
        "made on your API tokens page) or, from the browser, the session (writes need the CSRF token). "
        "Errors are RFC 9457 problem details with a stable `type`."
    ),
    urls_namespace="api",
    auth=[PersonalToken(), Session()],
    docs_url="/docs",
    openapi_url="/schema",
)

ERRORS = {401: problems.Problem, 404: problems.Problem, 422: problems.Problem, 429: problems.Problem}
WRITE_ERRORS = {**ERRORS, 403: problems.Problem}


# -- errors -----------------------------------------------------------------------------------------


@api.exception_handler(problems.ApiProblem)
def _problem(request: HttpRequest, exc: problems.ApiProblem) -> HttpResponse:
    return problems.response(exc.kind, exc.detail, request, **exc.extra)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problems.response("not-found", "Nothing with this id is in your teams.", request)


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return problems.response("forbidden", str(exc) or "Your role does not allow this.", request)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problems.response(
        "not-authenticated", "Send a personal API token as `Authorization: Bearer gcp_…`.", request
    )


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))} for error in exc.errors
    ]
    detail = "; ".join(f"{'.'.join(e['loc'][1:]) or e['loc'][0] if e['loc'] else 'input'}: {e['msg']}" for e in errors)
    return problems.response("invalid-input", detail, request, errors=errors)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 403:
        return problems.response(
            "csrf-failed", "A browser session's writes need the CSRF token (X-CSRFToken header).", request
        )
    if exc.status_code == 405:
        return problems.response("method-not-allowed", str(exc), request)
    if exc.status_code == 401:
        return problems.response("not-authenticated", str(exc), request)
    return problems.response("invalid-input", str(exc), request)


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("API error on %s", request.path)
    return problems.response("server-error", "The error is in the server log.", request)


# -- who am I ---------------------------------------------------------------------------------------


@api.get("/me", response={200: schemas.MeOut, **ERRORS}, tags=["me"])
def me(request: HttpRequest) -> Any:
    """Who the request acts as, with their teams and roles, and the token's own expiry."""
    token = getattr(request, "api_token", None)
    return schemas.MeOut(
        username=request.user.get_username(),
        teams=[
            schemas.TeamRole(team=slugify(t.name), team_id=t.pk, role=str(t.access_role))
            for t in scoping.teams(request)
        ],
        token=schemas.ApiTokenOut(
            id=token.pk,
            name=token.name,
            prefix=token.prefix,
            state=token.state,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
        )
        if token is not None
        else None,
    )


# -- connections ------------------------------------------------------------------------------------


@api.get("/connections", response={200: schemas.ConnectionList, **ERRORS}, tags=["connections"])
def list_connections(
    request: HttpRequest,
    health: Literal["failing", "attention", "never", "healthy"] | None = None,
    team: str | None = Query(None, max_length=100, description="a team's slug"),
) -> Any:
    """Every connection you can see, with health, token state, credential and days left, last and next run."""
    items = [
        reads.connection_out(row, role_in(request, row.team_id))
        for row in reads.with_facts(scoping.connections(request))
    ]
    items = [c for c in items if (health is None or c.health == health) and (team is None or c.team == team)]
    return schemas.ConnectionList(count=len(items), items=items)


@api.get("/connections/{uuid:pk}", response={200: schemas.ConnectionOut, **ERRORS}, tags=["connections"])
def get_connection(request: HttpRequest, pk: uuid.UUID) -> Any:
    connection = scoping.connection(request, pk)
    row = reads.with_facts(scoping.connections(request).filter(pk=connection.pk))[0]
    return reads.connection_out(row, connection.can.role)


@api.get("/connections/{uuid:pk}/problems", response={200: schemas.ProblemList, **ERRORS}, tags=["connections"])
def connection_problems(request: HttpRequest, pk: uuid.UUID) -> Any:
    """The connection's diagnoses: title, severity, explanation and the steps to take, in plain words."""
    connection = scoping.connection(request, pk)
    row = reads.with_facts(scoping.connections(request).filter(pk=connection.pk))[0]
    return schemas.ProblemList(connection=connection.pk, items=reads.diagnoses_of(row))


# -- actions and jobs -------------------------------------------------------------------------------


def _act(request: HttpRequest, pk: uuid.UUID, action: str) -> Any:
    connection = scoping.connection(request, pk, scoping.OPERATOR)
    job = services.start(connection, action, request.user)
    token = getattr(request, "api_token", None)
    via = f"personal token “{token.name}”, #{token.pk}" if token is not None else "session"
    audit.record(request, connection, AUDITED[action], detail=f"{action} requested through the API ({via})")
    return Status(202, reads.job_out(job))


@api.post("/connections/{uuid:pk}/token", response={202: schemas.JobOut, **WRITE_ERRORS}, tags=["actions"])
def get_token(request: HttpRequest, pk: uuid.UUID) -> Any:
    """Get an access token (operators). 202 with the job; poll its `url`."""
    return _act(request, pk, "token")


@api.post("/connections/{uuid:pk}/token/refetch", response={202: schemas.JobOut, **WRITE_ERRORS}, tags=["actions"])
def refetch_token(request: HttpRequest, pk: uuid.UUID) -> Any:
    """Re-fetch the token, ignoring the saved one (after a permission was granted)."""
    return _act(request, pk, "token-refetch")


@api.post("/connections/{uuid:pk}/test", response={202: schemas.JobOut, **WRITE_ERRORS}, tags=["actions"])
def test_connection(request: HttpRequest, pk: uuid.UUID) -> Any:
    """Test connection: a token, then one item of the entity."""
    return _act(request, pk, "test")


@api.post("/connections/{uuid:pk}/sync", response={202: schemas.JobOut, **WRITE_ERRORS}, tags=["actions"])
def sync_now(request: HttpRequest, pk: uuid.UUID) -> Any:
    """Sync now. A sync already queued or running is answered with its job, not started twice."""
    return _act(request, pk, "sync")


@api.get(
    "/connections/{uuid:pk}/jobs/{uuid:job_id}",
    response={200: schemas.JobOut, **ERRORS},
    tags=["actions"],
    url_name="job",
)
def job_status(request: HttpRequest, pk: uuid.UUID, job_id: uuid.UUID) -> Any:
    """A job's state (queued, running, succeeded, failed), progress and, when finished, its result."""
    return reads.job_out(scoping.job(request, pk, job_id))


@api.post(
    "/connections/{uuid:pk}/runs/{uuid:run_id}/cancel",
    response={202: schemas.RunOut, **WRITE_ERRORS},
    tags=["actions"],
)
def cancel_run(request: HttpRequest, pk: uuid.UUID, run_id: uuid.UUID) -> Any:
    """Cancel (operators): a queued run stops at once, a running one at its next page."""
    run = scoping.run(request, pk, run_id, scoping.OPERATOR)
    services.cancel(run, request.user)
    return Status(202, reads.run_out(run))


# -- runs -------------------------------------------------------------------------------------------


def _pages(count: int, size: int) -> int:
    return max(1, math.ceil(count / size))


@api.get("/connections/{uuid:pk}/runs", response={200: schemas.RunList, **ERRORS}, tags=["runs"])
def list_runs(request: HttpRequest, pk: uuid.UUID, page: int = Query(1, ge=1, le=100000)) -> Any:
    connection = scoping.connection(request, pk)
    runs = SyncRun.objects.filter(connection=connection).select_related("connection")
    paginator = Paginator(runs, RUNS_PER_PAGE)
    shown = paginator.get_page(page)
    return schemas.RunList(
        count=paginator.count,
        page=shown.number,
        pages=paginator.num_pages,
        items=[reads.run_out(run) for run in shown],
    )


@api.get("/connections/{uuid:pk}/runs/{uuid:run_id}", response={200: schemas.RunOut, **ERRORS}, tags=["runs"])
def get_run(request: HttpRequest, pk: uuid.UUID, run_id: uuid.UUID) -> Any:
    """One run: status, counts (pages, rows, bytes, added, changed, removed) and its diagnosis."""
    return reads.run_out(scoping.run(request, pk, run_id))


@api.get("/connections/{uuid:pk}/runs/{uuid:run_id}/items", response={200: schemas.ItemPage, **ERRORS}, tags=["runs"])
def run_items(
    request: HttpRequest,
    pk: uuid.UUID,
    run_id: uuid.UUID,
    q: str = Query("", max_length=SEARCH_MAX, description="search every field, any case"),
    page: int = Query(1, ge=1, le=1000000),
    page_size: int = Query(50, ge=1, le=MAX_PAGE_SIZE),
) -> Any:
    """The run's items in key order, paged; `q` searches them on the server."""
    run = scoping.run(request, pk, run_id)
    query = q.replace("\x00", "").strip()
    found = services.records(run, query)
    paginator = Paginator(found.only("key", "data"), page_size)
    number = min(page, paginator.num_pages)
    shown = paginator.page(number)
    return schemas.ItemPage(
        run=run.pk,
        q=query,
        count=paginator.count,
        page=number,
        pages=paginator.num_pages,
        columns=services.columns_for(run),
        items=[record.data for record in shown],
    )


@api.get(
    "/connections/{uuid:pk}/runs/{uuid:run_id}/changes", response={200: schemas.ChangePage, **ERRORS}, tags=["runs"]
)
def run_changes(
    request: HttpRequest,
    pk: uuid.UUID,
    run_id: uuid.UUID,
    kind: Literal["added", "changed", "removed"] = "added",
    page: int = Query(1, ge=1, le=1000000),
    page_size: int = Query(50, ge=1, le=MAX_PAGE_SIZE),
) -> Any:
    """What the run added, changed (with the changed fields, before and after) and removed since the previous run."""
    run = scoping.run(request, pk, run_id)
    count = services.change_count(run, kind)
    pages = _pages(count, page_size)
    number = min(page, pages)
    found = services.changes(run, kind, (number - 1) * page_size, page_size) if count else []
    return schemas.ChangePage(
        run=run.pk,
        previous=run.previous_id,
        kind=kind,
        count=count,
        page=number,
        pages=pages,
        items=[
            schemas.ChangeOut(
                kind=change.kind,  # type: ignore[arg-type]
                key=change.key,
                label=change.label,
                data=change.data,
                fields=[schemas.FieldChange(field=f, before=b, after=a) for f, b, a in change.fields],
            )
            for change in found
        ],
    )


EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


@api.get(
    "/connections/{uuid:pk}/runs/{uuid:run_id}/export",
    response={200: None, 409: problems.Problem, **ERRORS},
    tags=["runs"],
    openapi_extra={
        "responses": {
            "200": {
                "description": "The run's items, streamed",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/x-ndjson": {"schema": {"type": "string"}},
                },
            }
        }
    },
)
def export_run(request: HttpRequest, pk: uuid.UUID, run_id: uuid.UUID, format: Literal["csv", "jsonl"] = "csv") -> Any:
    """Every item of a successful run as CSV or JSON Lines, streamed from the database."""
    run = scoping.run(request, pk, run_id)
    if run.status != SyncRun.Status.SUCCEEDED:
        raise problems.ApiProblem(
            "not-exportable", f"Only a successful run can be exported; this one is {run.get_status_display().lower()}."
        )
    response = StreamingHttpResponse(services.export_lines(run, format), content_type=EXPORT_TYPES[format])
    name = slugify(f"{run.connection.name}-{run.entity}") or "sync"
    response["Content-Disposition"] = f'attachment; filename="{name}-{run.created_at:%Y%m%d-%H%M%S}.{format}"'
    return response


# -- credentials and planner ------------------------------------------------------------------------


@api.get("/credentials", response={200: schemas.CredentialList, **ERRORS}, tags=["credentials"])
def list_credentials(
    request: HttpRequest,
    expires_within_days: int | None = Query(
        None, ge=0, le=3650, description="only connections with a credential ending within this many days (or ended)"
    ),
) -> Any:
    """Every credential of every connection you can see, with days left."""
    rows = reads.with_facts(scoping.connections(request).prefetch_related("app_credentials"))
    items = [reads.credential_out(row) for row in rows]
    if expires_within_days is not None:
        limit = expires_within_days

        def soon(days: int | None) -> bool:
            return days is not None and days <= limit

        items = [
            item
            for item in items
            if soon(item.credential.days_left) or any(soon(c.days_left) for c in item.app_credentials)
        ]
    return schemas.CredentialList(count=len(items), items=items)


@api.get("/planner", response={200: schemas.PlanOut, **ERRORS}, tags=["planner"])
def plan_permissions(
    request: HttpRequest,
    paths: list[str] = Query(..., min_length=1, max_length=20, description="entity paths, e.g. users, groups"),
    kind: Literal["app", "delegated"] = "app",
) -> Any:
    """The least-privileged permissions that read these entities or paths, as the planner page shows them."""
    cleaned = [p.strip() for p in paths if p.strip()]
    if not cleaned or any(len(p) > 300 for p in cleaned):
        raise problems.ApiProblem("invalid-input", "Give one to 20 paths of at most 300 characters each.")
    plan = planner.plan(cleaned, kind)
    return schemas.PlanOut(
        token_kind=plan.token_kind,
        permissions=list(plan.names),
        needs=[schemas.PermissionNeed(permission=n.permission.name, entities=list(n.entities)) for n in plan.needs],
        impossible=list(plan.impossible),
        unknown=list(plan.unknown),
        notes=list(plan.notes),
        manifest=plan.manifest(),
    )


__all__ = ["api"]
