"""Sync pages: Sync now, the live progress fragment, the runs, one run's records (search, pages),
its export (CSV, JSON Lines, streamed) and what changed since the previous run.

Runs are fetched through ``access.get_for_user`` with the connection's id in the lookup, so a run
of another team (or of another connection) answers 404.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import condition, require_GET, require_POST

from connections import syncs
from connections.jobs import kinds
from connections.library.access import get_connection_for_user, get_for_user
from connections.syncs import export, results
from connections.syncs.results import CHANGE_KINDS, as_text, columns_for, search

from ..models import Job, Role, SyncRun
from . import fragments

RECORDS_PER_PAGE = 50
RUNS_PER_PAGE = 25
CHANGES_PER_PAGE = 50
EXPORT_CHUNK = 2000
SEARCH_MAX = 200


def _run_for_user(request: HttpRequest, pk: Any, run_id: Any) -> SyncRun:
    run = get_for_user(
        SyncRun.objects.select_related("connection__team", "job", "started_by"), request, pk=run_id, connection_id=pk
    )
    run.connection.can = run.can
    return run


@require_POST
def sync_start(request: fragments.HtmxHttpRequest, pk: Any) -> HttpResponse:
    connection = get_connection_for_user(request, pk, Role.OPERATOR)
    spec = kinds.get(Job.Kind.SYNC)
    run = syncs.start(connection, request.user)
    return fragments.started(
        request,
        connection,
        spec.fragment,
        {"run": run, "connection": connection, "can": connection.can},
        spec.started_message(connection.entity),
    )


@require_POST
def sync_cancel(request: fragments.HtmxHttpRequest, pk: Any, run_id: Any) -> HttpResponse:
    """Cancel (operators): a queued run stops at once, a running one at its next page."""
    run = get_for_user(
        SyncRun.objects.select_related("connection__team", "job", "started_by"),
        request,
        Role.OPERATOR,
        pk=run_id,
        connection_id=pk,
    )
    run.connection.can = run.can
    said = syncs.cancel(run, request.user)
    run.refresh_from_db()
    if request.htmx:
        return fragments.polled(
            request,
            kinds.get(Job.Kind.SYNC).fragment,
            {"run": run, "connection": run.connection, "can": run.can},
            finished=run.is_finished,
        )
    messages.info(request, said)
    return redirect("connections:detail", pk=run.connection_id)


@require_GET
@fragments.stops_polling_when_gone
@condition(etag_func=fragments.run_etag)
def sync_progress(request: HttpRequest, pk: Any, run_id: Any) -> HttpResponse:
    """The polled fragment of one run (see ``fragments``)."""
    run = _run_for_user(request, pk, run_id)
    return fragments.polled(
        request,
        kinds.get(Job.Kind.SYNC).fragment,
        {"run": run, "connection": run.connection, "can": run.can},
        finished=run.is_finished,
    )


@require_GET
def sync_panel(request: HttpRequest, pk: Any) -> HttpResponse:
    connection = get_connection_for_user(request, pk)
    return render(request, "connections/panels/syncs.html", {"connection": connection, "can": connection.can})


@require_GET
def sync_list(request: HttpRequest, pk: Any) -> HttpResponse:
    connection = get_connection_for_user(request, pk)
    runs = Paginator(SyncRun.objects.filter(connection=connection).select_related("started_by"), RUNS_PER_PAGE)
    return render(
        request,
        "connections/syncs/list.html",
        {
            "connection": connection,
            "can": connection.can,
            "page": runs.get_page(request.GET.get("page")),
        },
    )


@require_GET
def sync_detail(request: HttpRequest, pk: Any, run_id: Any) -> HttpResponse:
    """The run's records as a table; ``q`` searches the records' JSON text on the server."""
    run = _run_for_user(request, pk, run_id)
    query = request.GET.get("q", "").replace("\x00", "").strip()
    if len(query) > SEARCH_MAX:  # a longer LIKE pattern is refused by the database
        messages.warning(request, f"Search text is limited to {SEARCH_MAX} characters; the rest was left out.")
        query = query[:SEARCH_MAX].strip()
    records = search(results.snapshot(run), query).order_by("key")
    page = Paginator(records.only("key", "data"), RECORDS_PER_PAGE).get_page(request.GET.get("page"))
    columns = columns_for(run)
    rows = [(record.key, [as_text(record.data.get(name)) for name in columns]) for record in page]
    return render(
        request,
        "connections/syncs/detail.html",
        {
            "run": run,
            "connection": run.connection,
            "can": run.can,
            "columns": columns,
            "rows": rows,
            "rows_version": hashlib.blake2b(repr((columns, rows)).encode(), digest_size=16).hexdigest(),
            "page": page,
            "q": query,
        },
    )


@require_GET
def sync_changes(request: HttpRequest, pk: Any, run_id: Any) -> HttpResponse:
    run = _run_for_user(request, pk, run_id)
    kind = request.GET.get("kind", "")
    if kind not in CHANGE_KINDS:
        kind = next((k for k in CHANGE_KINDS if getattr(run, k)), "added")
    total = getattr(run, kind) or 0
    paginator = Paginator(range(total), CHANGES_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    found = results.changes(run, kind, page.start_index() - 1 if total else 0, CHANGES_PER_PAGE) if total else []
    return render(
        request,
        "connections/syncs/changes.html",
        {
            "run": run,
            "connection": run.connection,
            "can": run.can,
            "kind": kind,
            "kinds": CHANGE_KINDS,
            "changes": found,
            "page": page,
            "previous": run.previous if run.previous_id else None,
        },
    )


@require_GET
def sync_export(request: HttpRequest, pk: Any, run_id: Any) -> HttpResponse | StreamingHttpResponse:
    """CSV or JSON Lines, streamed from the database in chunks (never the whole run in memory).

    Only a successful run: a running one would give a partial file that looks complete."""
    run = _run_for_user(request, pk, run_id)
    fmt = request.GET.get("format", "csv")
    refused = (
        "Export formats are CSV and JSON Lines."
        if fmt not in ("csv", "jsonl")
        else ""
        if run.status == SyncRun.Status.SUCCEEDED
        else f"Only a successful run can be exported; this one is {run.get_status_display().lower()}."
    )
    if refused:
        messages.error(request, refused)
        return redirect("connections:sync_detail", pk=run.connection_id, run_id=run.pk)
    query = request.GET.get("q", "").replace("\x00", "").strip()[:SEARCH_MAX].strip()  # what the page shows
    data = (
        search(results.snapshot(run), query)
        .order_by("key")
        .values_list("data", flat=True)
        .iterator(chunk_size=EXPORT_CHUNK)
    )
    if fmt == "jsonl":
        response = StreamingHttpResponse(
            (json.dumps(d, ensure_ascii=False) + "\n" for d in data), content_type="application/x-ndjson; charset=utf-8"
        )
    else:
        response = StreamingHttpResponse(
            export.csv_lines(columns_for(run), data), content_type="text/csv; charset=utf-8"
        )
    name = slugify(f"{run.connection.name}-{run.entity}") or "sync"
    response["Content-Disposition"] = f'attachment; filename="{name}-{run.created_at:%Y%m%d-%H%M%S}.{fmt}"'
    return response


# -- helpers ----------------------------------------------------------------------------------------
