"""A sync run that stopped on the dashboard's side: no worker left, the task's time limit, an
unexpected error, or a next-page link the dashboard will not follow."""

from __future__ import annotations

from datetime import datetime

from microsoft.diagnoses.core import Action, Diagnosis, Severity, Step, register

STALE = register("sync.stale", Severity.WARNING, Action.RETRY)
INTERRUPTED = register("sync.interrupted", Severity.WARNING, Action.RETRY)
TOO_LONG = register("sync.too_long", Severity.WARNING, Action.EDIT_CONNECTION)
CRASHED = register("sync.crashed", Severity.ERROR, Action.RETRY)
FOREIGN_LINK = register("sync.foreign_link", Severity.ERROR, Action.EDIT_CONNECTION)
UNREADABLE_LINK = register("sync.unreadable_link", Severity.ERROR, Action.RETRY)


def stale(last_sign_of_life: datetime) -> Diagnosis:
    """No worker reported progress on the run for too long."""
    return STALE.build(
        title="The sync stopped without finishing",
        explanation="No worker reported progress on this run for a long time (the worker was probably stopped "
        "or restarted). Nothing it read was kept.",
        evidence=[("Last sign of life", f"{last_sign_of_life:%Y-%m-%d %H:%M:%S} UTC")],
        steps=[Step("Press Sync now to start again.", action=Action.RETRY)],
    )


def interrupted(message: str, last_sign_of_life: datetime, pages: int) -> Diagnosis:
    """The run's worker died (``message`` says how the dashboard found out)."""
    return INTERRUPTED.build(
        title="The sync was interrupted",
        explanation=message,
        evidence=[
            ("Last sign of life", f"{last_sign_of_life:%Y-%m-%d %H:%M:%S} UTC"),
            ("Pages read before", str(pages)),
        ],
        steps=[Step("Press Sync now to start again.", action=Action.RETRY)],
    )


def too_long(pages: int, rows: int) -> Diagnosis:
    """The worker stopped the run at its soft time limit."""
    return TOO_LONG.build(
        title="The sync took longer than a worker may run one task",
        explanation=f"The worker stopped the run at its time limit (CELERY_TASK_SOFT_TIME_LIMIT) after {pages} pages "
        f"and {rows} rows. Nothing this run read was kept.",
        evidence=[("Pages read", str(pages)), ("Rows read", str(rows))],
        steps=[
            Step(
                "Narrow the read with $select or $filter, or ask your admin to raise "
                "CELERY_TASK_SOFT_TIME_LIMIT and CELERY_TASK_TIME_LIMIT.",
                action=Action.EDIT_CONNECTION,
            )
        ],
    )


def crashed() -> Diagnosis:
    return CRASHED.build(
        title="The sync stopped on an unexpected error",
        explanation="The worker hit an error the dashboard does not recognise; the details are in the worker's log. "
        "Nothing this run read was kept.",
        steps=[
            Step(
                "Press Sync now to try again; if it happens again, send the worker log to your admin.",
                action=Action.RETRY,
            )
        ],
    )


def foreign_link(entity: str, next_host: str, service_host: str) -> Diagnosis:
    """Graph named a next page on another host than the service URL's (the token never goes there)."""
    return FOREIGN_LINK.build(
        title="Graph pointed the next page at another host",
        explanation=f"The answer for {entity} said the next page is at {next_host}, which is not the connection's "
        f"service URL ({service_host}). The dashboard sends the access token only "
        "to the service URL's host, so the sync stopped and kept nothing.",
        evidence=[("Next page host", next_host), ("Service URL host", service_host)],
        steps=[
            Step(
                "Check that the service URL is the Graph host the tenant uses (global or a national "
                "cloud), then sync again.",
                action=Action.EDIT_CONNECTION,
            )
        ],
    )


def unreadable_link(entity: str, problem: str, service_host: str) -> Diagnosis:
    """A next-page (or delta) link that fails the outbound check."""
    return UNREADABLE_LINK.build(
        title="Graph gave a next-page link the dashboard cannot use",
        explanation=f"The answer for {entity} named its next page (or delta link) with a URL that fails the "
        f"dashboard's outbound check: {problem.rstrip('.')}. Nothing was sent to it, and the sync stopped and "
        "kept nothing.",
        evidence=[("Problem", problem), ("Service URL host", service_host)],
        steps=[
            Step(
                "Try again; if it keeps happening, something between the dashboard and Graph (a proxy) "
                "is rewriting answers.",
                action=Action.RETRY,
            )
        ],
    )
