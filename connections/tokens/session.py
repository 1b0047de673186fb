"""One Graph session: how Test connection and a sync read Microsoft Graph for a connection.

A session holds the connection's token and reads with it; what both readers need is here once:

- **the token**: ``GraphSession.open`` takes the saved token or fetches one (single-flight);
- **one re-fetch on 401**: when Graph refuses the token (``InvalidAuthenticationToken``: expired or
  revoked), the session fetches a new one once and asks again; a second refusal is Graph's answer;
- **throttle waits**: a short read (Test connection) leaves 429/5xx to the outbound policy's few
  retries, which honour a Retry-After up to its cap; a patient read (a sync's pages) asks the same
  URL again itself — Retry-After when Graph gives one, else capped backoff — for at most
  ``patience`` seconds, telling the caller each wait so its page can say so;
- **the refusal**: ``refuse`` diagnoses a failed answer and keeps it as the connection's
  ``GraphRefusal`` (the latest replaces the one before); ``succeeded`` removes it.

The refusal is kept across **Re-fetch token** on purpose: ``reassess_after_refetch`` then says
whether the new token carries the permission Graph refused for, or that the grant has not reached
new tokens yet (instead of repeating the first diagnosis).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.utils import timezone

from connections.encryption.fields import plaintext
from connections.models import Connection, ConnectionToken, GraphRefusal, TokenFetch
from connections.policy import outbound_policy
from connections.tokens import appinfo
from connections.tokens.fetch import context_for, ensure_token, fetch_token
from microsoft import catalogue, diagnoses, graphclient, outbound, throttling

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRIED_TRANSPORT = frozenset({"unreachable", "timeout"})
KEPT_HEADERS = ("request-id", "client-request-id", "date")

# Told before each wait of a patient read: seconds, why ("Graph answered HTTP 503"), the next try's number.
Wait = Callable[[float, str, int], None]


class TokenUnavailable(Exception):
    """No token to read with (the first one, or the re-fetch after a 401); ``diagnosis`` says why."""

    def __init__(self, diagnosis: diagnoses.Diagnosis | None) -> None:
        super().__init__(diagnosis.title if diagnosis else "no token")
        self.diagnosis = diagnosis


@dataclass
class GraphSession:
    """Reads Graph for one connection with its token (see the module docstring)."""

    connection: Connection
    token: ConnectionToken
    policy: outbound.OutboundPolicy
    source: str = GraphRefusal.Source.TEST
    job_id: str | None = None
    user: Any = None
    patience: float | None = None  # seconds a patient read keeps asking again; None: a short read
    refetched: bool = False

    @classmethod
    def open(
        cls,
        connection: Connection,
        *,
        reason: str,
        source: str,
        job_id: str | None = None,
        user: Any = None,
        patience: float | None = None,
    ) -> GraphSession:
        """A session with a usable token; ``TokenUnavailable`` when there is none."""
        outcome = ensure_token(connection, reason=reason, job_id=job_id, user=user)
        if not outcome.ok:
            raise TokenUnavailable(outcome.diagnosis)
        policy = outbound_policy()
        if patience is not None:  # the session retries itself (with a time budget): one try each
            policy = replace(policy, retries=0)
        return cls(connection, outcome.token, policy, source, job_id, user, patience)

    @property
    def access_token(self) -> str:
        return plaintext(self.token.access_token)

    # -- reading ----------------------------------------------------------------------------------

    def get(
        self,
        url: str,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        *,
        answered: Callable[[], graphclient.GraphResponse | None] | None = None,
        wait: Wait | None = None,
    ) -> graphclient.GraphResponse:
        """GET ``url`` with the token; the last answer is returned for the caller to diagnose.

        ``answered``: an answer already downloaded for this URL (a prefetched page), taken instead
        of a GET when it gives one. ``wait``: sleeps a patient read's waits (default: time.sleep).
        Transport failures raise ``outbound.OutboundError``; a failed re-fetch ``TokenUnavailable``.
        """
        if self.patience is None:
            return self._once(url, params, headers, answered)
        budget = self.patience
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                response, failure = self._once(url, params, headers, answered), None
                pause = retry_wait(response.status, response.headers.get("retry-after", ""), attempt)
                reason = f"Graph answered HTTP {response.status}"
            except outbound.OutboundError as err:
                if err.kind not in RETRIED_TRANSPORT:
                    raise
                response, failure = None, err
                pause, reason = retry_wait(None, "", attempt), "Graph could not be reached"
            if pause is None:
                return response  # type: ignore[return-value]
            if pause > budget - (time.monotonic() - started):
                if failure is not None:
                    raise failure
                return response  # type: ignore[return-value]
            if response is not None and response.status == 429 and (reading := throttling.current()) and reading.tally:
                reading.tally.waited_for_throttle(pause)
            (wait or _sleep)(pause, reason, attempt + 1)

    def _once(
        self,
        url: str,
        params: dict[str, str] | None,
        headers: dict[str, str] | None,
        answered: Callable[[], graphclient.GraphResponse | None] | None,
    ) -> graphclient.GraphResponse:
        response = answered() if answered is not None else None
        if response is None:
            response = self.download(url, params, headers)
        if response.status == 401 and response.error_code == "InvalidAuthenticationToken" and not self.refetched:
            # The token was refused (expired or revoked): re-fetch once, then ask again.
            outcome = fetch_token(
                self.connection, force=True, reason=TokenFetch.Reason.EXPIRED, job_id=self.job_id, user=self.user
            )
            if not outcome.ok:
                raise TokenUnavailable(outcome.diagnosis)
            self.token, self.refetched = outcome.token, True
            response = self.download(url, params, headers)
        return response

    def download(
        self, url: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> graphclient.GraphResponse:
        """One GET with the session's current token and nothing else: no database, so another
        thread may call it (a prefetch); its answer is then given to ``get`` as ``answered``."""
        return graphclient.get(url, self.access_token, policy=self.policy, params=params, headers=headers)

    # -- what an answer means ---------------------------------------------------------------------

    def diagnose(
        self, response: graphclient.GraphResponse, granted: frozenset[str] | None = None
    ) -> diagnoses.Diagnosis:
        """The diagnosis of a failed answer (``granted``: the app's grants, when read), kept nowhere."""
        body = response.body if isinstance(response.body, dict) else None
        return diagnoses.diagnose_graph_error(
            response.status,
            body,
            response.headers,
            context_for(self.connection),
            frozenset(self.token.permissions or []),
            self.token.kind or "app",
            granted=granted,
        )

    def refuse(self, response: graphclient.GraphResponse) -> diagnoses.Diagnosis:
        """Diagnose a failed answer (on 403 with the app's grants, re-read now) and keep it as the
        connection's Graph refusal, for the Diagnostics panel and a later re-fetch."""
        row = self.token
        granted = appinfo.refresh_app_facts(self.connection, row).granted if response.status == 403 else None
        diagnosis = self.diagnose(response, granted)
        GraphRefusal.objects.update_or_create(
            connection=self.connection,
            defaults={
                "source": self.source,
                "refused_at": timezone.now(),
                "status": response.status,
                "entity": self.connection.entity,
                "body": response.body if isinstance(response.body, dict) else None,
                "headers": {k: v for k, v in response.headers.items() if k in KEPT_HEADERS},
                "diagnosis": diagnosis.to_dict(),
                "resolved": False,
                "token_kind": row.kind or "app",
                "token_permissions": list(row.permissions or []),
                "granted": sorted(granted) if granted is not None else None,
            },
        )
        return diagnosis

    def succeeded(self) -> None:
        """The read worked: the connection's last refusal no longer holds."""
        clear_refusal(self.connection)


def retry_wait(status: int | None, retry_after: str, attempt: int) -> float | None:
    """Seconds to wait before asking for the same URL again, or None when the answer is final.

    Graph asks clients to honour Retry-After on 429 and 503
    (https://learn.microsoft.com/en-us/graph/throttling); without it, and for 500/502/504 and lost
    connections, capped exponential backoff with jitter (half fixed, half random, so retrying
    workers spread out but never hammer at once).
    """
    if status is not None and status not in RETRIED_STATUSES:
        return None
    try:
        seconds = float(retry_after.strip())
        if seconds >= 0:
            return seconds
    except ValueError:
        pass  # absent, or an HTTP-date: back off by ourselves
    step = min(float(settings.SYNC_PAGE_BACKOFF_CAP), float(settings.SYNC_PAGE_BACKOFF_BASE) * 2 ** (attempt - 1))
    return step / 2 + random.uniform(0, step / 2)


def _sleep(seconds: float, reason: str, attempt: int) -> None:
    time.sleep(seconds)


# -- the refusal ----------------------------------------------------------------------------------


def refusal_of(connection: Connection) -> GraphRefusal | None:
    return GraphRefusal.objects.filter(connection=connection).first()


def clear_refusal(connection: Connection) -> None:
    GraphRefusal.objects.filter(connection=connection).delete()


def reassess_after_refetch(connection: Connection, row: ConnectionToken) -> diagnoses.Diagnosis | None:
    """After a re-fetch, say whether the new token now carries what Graph refused for.

    Gained: an info note to run the read again. Still missing: the diagnosis with the previous
    attempt, which says the grant has not reached new tokens yet instead of repeating itself.
    """
    stored = refusal_of(connection)
    if stored is None or stored.status not in (401, 403) or stored.resolved:
        return None
    before = diagnoses.Diagnosis.from_dict(stored.diagnosis)
    entity = catalogue.resolve(stored.entity or connection.entity)
    permissions = frozenset(row.permissions or [])
    rule = entity.rule(row.kind or "app", connection.odata_select) if entity is not None else None
    if entity is not None and rule is not None and rule.satisfied_by(permissions):
        present = ", ".join(rule.present(permissions))
        after = diagnoses.graph.permission_now_in_token(entity.display_name, before.missing, present, permissions)
        stored.resolved, stored.diagnosis = True, after.to_dict()
        stored.save(update_fields=["resolved", "diagnosis"])
    else:
        # The caller has just refreshed row.granted (appinfo.refresh_app_facts) for the new token.
        granted = frozenset(row.granted) if row.granted is not None else None
        previous = diagnoses.PreviousAttempt.of(before, stored.token_permissions or [])
        after = diagnoses.diagnose_graph_error(
            stored.status,
            stored.body,
            stored.headers or {},
            context_for(connection),
            permissions,
            row.kind or "app",
            previous=previous,
            granted=granted,
        )
        stored.diagnosis, stored.token_permissions, stored.granted = after.to_dict(), sorted(permissions), row.granted
        stored.save(update_fields=["diagnosis", "token_permissions", "granted"])
    return after
