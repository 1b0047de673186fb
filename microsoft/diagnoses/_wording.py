"""Wording helpers and the steps several diagnoses share (links to the portal, the consent page,
the dashboard's buttons)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from http import HTTPStatus

from microsoft.diagnoses.core import Action, Context, Step
from microsoft.tokenclient import CLOUDS, graph_admin_consent_url, portal_app_url

SERVICE_HEALTH_URL = "https://admin.microsoft.com/Adminportal/Home#/servicehealth"

# --- small wording helpers ---------------------------------------------------------------------


def _join(items: Iterable[str], last: str) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def _or(items: Iterable[str]) -> str:
    return _join(items, "or")


def _and(items: Iterable[str]) -> str:
    return _join(items, "and")


def _time(value: datetime | None, ctx: Context) -> str:
    when = value or ctx.now or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _status_text(status: int | None) -> str:
    if not status:
        return "no answer"
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _kind_word(token_kind: str) -> str:
    return "application" if token_kind == "app" else "delegated"


# --- steps shared by several diagnoses ---------------------------------------------------------


def _refetch_step(text: str = "Press Re-fetch token to get a new token with the current settings.") -> Step:
    return Step(text, action=Action.REFETCH_TOKEN)


def _portal(ctx: Context, blade: str) -> str:
    if blade == "CallAnAPI" and ctx.permissions_page_url:
        return ctx.permissions_page_url
    return portal_app_url(ctx.client_id, ctx.portal_cloud, blade)


def _permissions_page_step(ctx: Context, text: str) -> Step:
    return Step(text, url=_portal(ctx, "CallAnAPI"))


def _admin_consent_step(ctx: Context, text: str | None = None) -> Step:
    url = graph_admin_consent_url(
        ctx.login_host, ctx.tenant, ctx.client_id, ctx.graph_service_url, redirect_uri=ctx.redirect_uri
    )
    return Step(
        text
        or "Grant admin consent for the tenant (a Global Administrator or Privileged Role "
        "Administrator has to do this): open the consent page and accept.",
        url=url,
        action=Action.ADMIN_CONSENT,
    )


def _edit_connection_step(text: str) -> Step:
    return Step(text, action=Action.EDIT_CONNECTION)


def _portal_host(ctx: Context) -> str:
    return CLOUDS[ctx.portal_cloud].portal_host
