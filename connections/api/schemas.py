"""What the API answers, field by field. No secret, key, token, refresh token, certificate key,
secret hint or webhook URL has a field here, so none can reach a response."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field


class Step(BaseModel):
    text: str
    url: str | None = None


class DiagnosisOut(BaseModel):
    """A diagnosis as the pages show it: what happened and what to do next."""

    source: Literal["token", "graph", "sync", "status"]
    key: str
    severity: str
    title: str
    explanation: str = ""
    steps: list[Step] = []


class CredentialState(BaseModel):
    type: Literal["secret", "certificate"]
    ends_on: dt.date | None = Field(None, description="when the credential in use ends")
    days_left: int | None = Field(None, description="negative: expired that many days ago; null: no expiry known")
    level: str = Field(description='"", "30", "7", "1" or "expired" (the health board\'s warning level)')
    source: str = Field(description='"entra", "certificate", "manual" or "" (where the end date comes from)')


class RunSummary(BaseModel):
    id: uuid.UUID
    status: str
    at: dt.datetime | None
    rows: int | None


class ConnectionOut(BaseModel):
    id: uuid.UUID
    name: str
    team: str
    team_id: int
    role: str | None = Field(description="your role in the connection's team")
    entity: str
    grant_type: str
    health: Literal["failing", "attention", "never", "healthy"]
    token_state: str = Field(description='"none", "valid", "expired", "error" or "sign_in"')
    token_expires_at: dt.datetime | None
    credential: CredentialState
    last_run: RunSummary | None
    next_run: dt.datetime | None
    problems: list[str]


class ConnectionList(BaseModel):
    count: int
    items: list[ConnectionOut]


class ProblemList(BaseModel):
    connection: uuid.UUID
    items: list[DiagnosisOut]


class JobOut(BaseModel):
    id: uuid.UUID
    kind: str
    state: str
    progress: int
    message: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    connection: uuid.UUID | None
    run: uuid.UUID | None = Field(None, description="the sync run this job runs, for a sync")
    result: dict[str, Any] | None = Field(None, description="what the job found: ok, and its diagnosis on failure")
    url: str


class RunOut(BaseModel):
    id: uuid.UUID
    connection: uuid.UUID
    status: str
    mode: str
    trigger: str
    entity: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    duration_seconds: float | None
    pages: int
    rows: int
    bytes: int
    total: int | None = Field(None, description="@odata.count, when Graph gave one")
    added: int | None
    changed: int | None
    removed: int | None
    message: str
    diagnosis: DiagnosisOut | None
    job: uuid.UUID | None


class RunList(BaseModel):
    count: int
    page: int
    pages: int
    items: list[RunOut]


class ItemPage(BaseModel):
    run: uuid.UUID
    q: str
    count: int
    page: int
    pages: int
    columns: list[str]
    items: list[dict[str, Any]]


class FieldChange(BaseModel):
    field: str
    before: Any = None
    after: Any = None


class ChangeOut(BaseModel):
    kind: Literal["added", "changed", "removed"]
    key: str
    label: str
    data: dict[str, Any]
    fields: list[FieldChange] = []


class ChangePage(BaseModel):
    run: uuid.UUID
    previous: uuid.UUID | None
    kind: Literal["added", "changed", "removed"]
    count: int
    page: int
    pages: int
    items: list[ChangeOut]


class AppCredentialOut(BaseModel):
    """A credential of the app as Entra listed it (never its value or hint)."""

    kind: str
    key_id: str
    display_name: str
    thumbprint: str
    start_at: dt.datetime | None
    end_at: dt.datetime | None
    days_left: int | None
    in_use: bool


class CredentialOut(BaseModel):
    connection: uuid.UUID
    connection_name: str
    team: str
    credential: CredentialState
    entra_checked_at: dt.datetime | None
    app_credentials: list[AppCredentialOut]


class CredentialList(BaseModel):
    count: int
    items: list[CredentialOut]


class PlannerIn(BaseModel):
    paths: list[str] = Field(min_length=1, max_length=20, description="entity paths, e.g. users, groups")
    kind: Literal["app", "delegated"] = "app"


class PermissionNeed(BaseModel):
    permission: str
    entities: list[str]


class PlanOut(BaseModel):
    token_kind: str
    permissions: list[str]
    needs: list[PermissionNeed]
    impossible: list[str]
    unknown: list[str]
    notes: list[str]
    manifest: str


class ApiTokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    state: str
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None


class TeamRole(BaseModel):
    team: str
    team_id: int
    role: str


class MeOut(BaseModel):
    """Who the request acts as: a script checks its token with this."""

    username: str
    teams: list[TeamRole]
    token: ApiTokenOut | None = Field(None, description="the personal token the request came with (none: a session)")
