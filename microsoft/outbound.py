"""The one door for outbound HTTP: only allowed hosts, always TLS-verified, plain-word errors.

A connection profile holds URLs typed by people; this module is what keeps a profile from making
the server call an arbitrary URL (cloud metadata, the intranet). Every token and Graph request goes
through ``request()``, which checks the URL and every redirect target against the allowed hosts,
retries transient failures with capped, jittered backoff, and turns transport failures into
``OutboundError`` messages that name the host and never the query, headers or body.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import ipaddress
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import requests

from microsoft import clouds
from microsoft.redaction import sensitive_variables

# Microsoft's login and Graph hosts in the global and national clouds (docs/microsoft-wire-facts.md, "National clouds").
DEFAULT_ALLOWED_HOSTS: frozenset[str] = frozenset(clouds.ALLOWED_HOSTS)

MAX_REDIRECTS = 3
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class OutboundError(Exception):
    """A request that got no usable HTTP answer. ``kind`` is one of: unreachable, timeout, tls,
    disallowed, redirect. ``message`` is safe to show and to log."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __reduce__(self) -> tuple:  # survives pickling (worker results, multiprocessing)
        return (type(self), (self.kind, self.message))


class DisallowedURL(OutboundError):
    """The URL (or a redirect target) breaks the outbound rules; nothing was sent to it."""

    def __init__(self, message: str) -> None:
        super().__init__("disallowed", message)

    def __reduce__(self) -> tuple:
        return (type(self), (self.message,))


def _norm_entry(entry: str) -> str:
    """``host`` and ``host:443`` mean the same; compare entries lower-case."""
    entry = entry.strip().lower()
    return entry[:-4] if entry.endswith(":443") else entry


@dataclass(frozen=True)
class OutboundPolicy:
    """Where outbound requests may go and how patiently. Entries are ``host`` (port 443) or
    ``host:port``; IPv6 literals as ``[::1]:8443``; ``*.example.com`` admits every name under
    example.com (not example.com itself), for services that give each customer a host of its own."""

    allowed_hosts: frozenset[str] = DEFAULT_ALLOWED_HOSTS
    ca_bundle: str | None = None
    timeout: float = 10.0  # seconds, for connecting and for each read
    retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    retry_after_cap: float = 30.0  # a longer Retry-After is handed back to the caller instead
    _entries: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_entries", frozenset(_norm_entry(h) for h in self.allowed_hosts))

    def allows(self, host: str, port: int) -> bool:
        shown = f"[{host}]" if ":" in host else host
        key = (shown if port == 443 else f"{shown}:{port}").lower()
        if key in self._entries:
            return True
        labels = key.split(".")
        return not _is_ip_literal(host) and any(
            "*." + ".".join(labels[i:]) in self._entries for i in range(1, len(labels) - 1)
        )


def safe_url(url: str) -> str:
    """The URL without userinfo, query or fragment: fit for messages and logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(unreadable URL)"
    shown = f"[{host}]" if ":" in host else host
    netloc = f"{shown}:{port}" if port else shown
    return f"{parts.scheme}://{netloc}{parts.path}"


def _host_label(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port and port != 443 else host


def check_url(url: str, policy: OutboundPolicy) -> None:
    """Raise ``DisallowedURL`` unless ``url`` is an https URL on an allowed host and port."""
    if not isinstance(url, str) or not url:
        raise DisallowedURL("The URL is missing or not text.")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise DisallowedURL("The URL contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = 443 if parts.port is None else parts.port
    except ValueError:
        raise DisallowedURL("The URL has an invalid port or host name.") from None
    if parts.scheme.lower() != "https":
        raise DisallowedURL(f"Only https:// URLs are allowed, not {parts.scheme or 'a relative URL'}.")
    if "@" in parts.netloc or "\\" in parts.netloc:
        raise DisallowedURL("The URL must not contain a user name or password (user@host).")
    host = (parts.hostname or "").lower()
    if not host:
        raise DisallowedURL("The URL has no host name.")
    label = f"{host}:{port}" if port != 443 else host
    if policy.allows(host, port):
        return
    if _is_ip_literal(host):
        raise DisallowedURL(
            f"{label} is an IP address; only the exact addresses listed in GRAPH_ALLOWED_HOSTS may be called."
        )
    if port != 443 and policy.allows(host, 443):
        raise DisallowedURL(f"Port {port} of {host} is not in GRAPH_ALLOWED_HOSTS (only 443 is).")
    raise DisallowedURL(f"Host {label} is not in GRAPH_ALLOWED_HOSTS.")


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # Integer and hex forms (2130706433, 0x7f.1) resolve as addresses too.
        return host.replace(".", "").isdigit() or host.startswith("0x")
    return True


@sensitive_variables()  # the debug 500 page must not show secrets or tokens
def request(
    method: str,
    url: str,
    *,
    policy: OutboundPolicy,
    data: dict | str | bytes | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    retry: bool | None = None,
) -> requests.Response:
    """Send one request under ``policy`` and return the final response, whatever its status.

    ``retry``: None retries transient failures for idempotent methods only; True also for this
    request (token POSTs are safe to repeat); False never. Transient means connection failures,
    connect timeouts, 429 and 5xx. After the last attempt a 429/5xx response is returned as is.
    """
    method = method.upper()
    check_url(url, policy)
    may_retry = retry if retry is not None else method in IDEMPOTENT_METHODS
    attempts = 1 + (max(0, policy.retries) if may_retry else 0)
    for attempt in range(attempts):
        last = attempt == attempts - 1
        try:
            response = _follow(method, url, policy, data, headers, params)
        except _Transient as exc:
            if last:
                raise exc.error from None
            time.sleep(_backoff(policy, attempt))
            continue
        if last or not (response.status_code == 429 or response.status_code >= 500):
            return response
        wait = _retry_after(response)
        if wait is not None and wait > policy.retry_after_cap:
            return response  # waiting that long is the caller's business (e.g. a later task run)
        response.close()
        time.sleep(wait if wait is not None else _backoff(policy, attempt))
    raise AssertionError("unreachable")  # the loop always returns or raises


class _Transient(Exception):
    def __init__(self, error: OutboundError) -> None:
        self.error = error


@sensitive_variables()  # the debug 500 page must not show secrets or tokens
def _follow(
    method: str,
    url: str,
    policy: OutboundPolicy,
    data: dict | str | bytes | None,
    headers: dict[str, str] | None,
    params: dict[str, str] | None,
) -> requests.Response:
    """One attempt, following at most ``MAX_REDIRECTS`` redirects, each checked like the first URL."""
    headers = dict(headers or {})
    for _ in range(MAX_REDIRECTS + 1):
        response = _send(method, url, policy, data, headers, params)
        location = response.headers.get("Location")
        if response.status_code not in _REDIRECT_STATUSES or not location:
            return response
        response.close()
        try:
            target = urljoin(response.url or url, location)  # an unclosed [IPv6 raises here
            check_url(target, policy)
        except DisallowedURL as exc:
            raise DisallowedURL(
                f"{_host_label(url)} redirected to {safe_url(target)}, which was refused: {exc.message}"
            ) from None
        except ValueError:
            raise DisallowedURL(
                f"{_host_label(url)} redirected to an unreadable URL (invalid port or host name), which was refused."
            ) from None
        if urlsplit(target).hostname != urlsplit(url).hostname:
            headers.pop("Authorization", None)
        if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
            method, data = "GET", None
        url, params = target, None
    raise OutboundError("redirect", f"{_host_label(url)} redirected more than {MAX_REDIRECTS} times.")


@sensitive_variables()  # the debug 500 page must not show secrets or tokens
def _send(
    method: str,
    url: str,
    policy: OutboundPolicy,
    data: dict | str | bytes | None,
    headers: dict[str, str],
    params: dict[str, str] | None,
) -> requests.Response:
    host = _host_label(url)
    with _session() as session:
        try:
            return session.request(
                method,
                url,
                data=data,
                headers=headers,
                params=params,
                timeout=policy.timeout,
                verify=policy.ca_bundle or True,
                allow_redirects=False,
            )
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, ValueError):
            # check_url passed the URL itself, so requests choked on the answer's Location (it parses
            # one even with allow_redirects=False): refuse it like any bad redirect target.
            raise DisallowedURL(
                f"{host} redirected to an unreadable URL (invalid port or host name), which was refused."
            ) from None
        except requests.exceptions.SSLError as exc:
            raise OutboundError("tls", _tls_message(host, str(exc))) from None
        except requests.exceptions.ConnectTimeout:
            raise _Transient(OutboundError("timeout", _timeout_message(host, policy))) from None
        except requests.exceptions.Timeout:
            # The request reached the server; repeating it could double the wait for nothing.
            raise OutboundError("timeout", _timeout_message(host, policy)) from None
        except requests.exceptions.ConnectionError as exc:
            raise _Transient(
                OutboundError("unreachable", f"Could not reach {host}: {_connection_reason(str(exc))}")
            ) from None


_kept = threading.local()


def _new_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy, netrc or CA-bundle surprises from the environment
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))  # keeps no cookies
    return session


def _session() -> contextlib.AbstractContextManager[requests.Session]:
    """This thread's kept-alive session inside ``keep_alive()``; else a new one for this request."""
    kept = getattr(_kept, "session", None)
    return contextlib.nullcontext(kept) if kept is not None else _new_session()


@contextlib.contextmanager
def keep_alive() -> Iterator[None]:
    """Within the block, this thread's requests reuse their connections (a sync's pages: one TLS
    handshake instead of one per page). Every URL is still checked as usual; no cookies are kept."""
    if getattr(_kept, "session", None) is not None:
        yield
        return
    with _new_session() as session:
        _kept.session = session
        try:
            yield
        finally:
            _kept.session = None


def _timeout_message(host: str, policy: OutboundPolicy) -> str:
    return f"No answer from {host} within {policy.timeout:g} s."


def _tls_message(host: str, text: str) -> str:
    lowered = text.lower()
    if "hostname mismatch" in lowered or "doesn't match" in lowered:
        return f"TLS certificate of {host} is not valid for that host name."
    if "certificate verify failed" in lowered:
        reason = lowered.split("certificate verify failed:", 1)[-1].split("(")[0].strip(" )'\"")
        detail = f" ({reason})" if reason and "certificate verify failed" not in reason else ""
        return f"TLS certificate of {host} is not trusted{detail}."
    return f"TLS handshake with {host} failed."


def _connection_reason(text: str) -> str:
    lowered = text.lower()
    for needle, reason in (
        ("refused", "connection refused"),
        ("name or service not known", "the host name could not be resolved (DNS)"),
        ("nodename nor servname", "the host name could not be resolved (DNS)"),
        ("temporary failure in name resolution", "the host name could not be resolved (DNS)"),
        ("failed to resolve", "the host name could not be resolved (DNS)"),
        ("getaddrinfo failed", "the host name could not be resolved (DNS)"),
        ("reset by peer", "the connection was reset"),
        ("remotedisconnected", "the server closed the connection without answering"),
        ("connection aborted", "the server closed the connection without answering"),
        ("network is unreachable", "the network is unreachable"),
        ("no route to host", "no route to host"),
    ):
        if needle in lowered:
            return reason
    return "the connection failed"


def _backoff(policy: OutboundPolicy, attempt: int) -> float:
    """Full jitter: a random wait up to the capped exponential step (spreads retrying workers)."""
    return random.uniform(0, min(policy.backoff_cap, policy.backoff_base * 2**attempt))


def _retry_after(response: requests.Response) -> float | None:
    """Seconds to wait from ``Retry-After`` (integer seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))  # Graph documents integers; a fraction is tolerated
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
