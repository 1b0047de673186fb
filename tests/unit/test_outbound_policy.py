"""Outbound rules: which URLs may be called (pure), and redirects, retries and errors against a tiny
local HTTPS server (the sandbox's own certificate helper issues its certificate)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connections.policy import outbound_policy
from graphsandbox.certs import issue_server_certificate
from microsoft.outbound import (
    DEFAULT_ALLOWED_HOSTS,
    DisallowedURL,
    OutboundError,
    OutboundPolicy,
    check_url,
    request,
    safe_url,
)

POLICY = OutboundPolicy()


@pytest.mark.parametrize(
    "url",
    [
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
        "https://graph.microsoft.com/v1.0/users?$top=5",
        "https://GRAPH.microsoft.com:443/beta/groups",
        "https://login.microsoftonline.us/tenant/oauth2/token",
        "https://microsoftgraph.chinacloudapi.cn/v1.0/users",
        "https://dod-graph.microsoft.us/v1.0/users",
    ],
)
def test_microsoft_hosts_are_allowed_by_default(url):
    check_url(url, POLICY)


DISALLOWED = [
    ("http://graph.microsoft.com/v1.0/users", "Only https:// URLs"),
    ("ftp://graph.microsoft.com/x", "Only https:// URLs"),
    ("/v1.0/users", "Only https:// URLs"),
    ("https://evil.example/v1.0/users", "Host evil.example is not in GRAPH_ALLOWED_HOSTS"),
    ("https://graph.microsoft.com.evil.example/", "not in GRAPH_ALLOWED_HOSTS"),
    ("https://169.254.169.254/latest/meta-data/", "is an IP address"),
    ("https://127.0.0.1/", "is an IP address"),
    ("https://[::1]:8443/", "is an IP address"),
    ("https://2130706433/", "is an IP address"),
    ("https://user:pass@graph.microsoft.com/v1.0/users", "user name or password"),
    ("https://graph.microsoft.com@evil.example/", "user name or password"),
    ("https://graph.microsoft.com:8443/v1.0/users", "Port 8443 of graph.microsoft.com is not in"),
    ("https://graph.microsoft.com:99999/", "invalid port"),
    ("https://graph.microsoft.com:0/", "Port 0 of graph.microsoft.com is not in"),
    ("https://graph.microsoft.com/v1.0/users\r\nHost: evil", "control characters"),
    ("https:///v1.0/users", "no host name"),
]


@pytest.mark.parametrize("url, message", DISALLOWED)
def test_other_urls_are_refused_with_a_reason(url, message):
    with pytest.raises(DisallowedURL) as caught:
        check_url(url, POLICY)

    assert message in caught.value.message
    assert caught.value.kind == "disallowed"


def test_an_ip_literal_is_allowed_only_with_its_exact_port():
    policy = OutboundPolicy(allowed_hosts=frozenset({"127.0.0.1:8443", "[::1]:9443"}))

    check_url("https://127.0.0.1:8443/tenant/oauth2/v2.0/token", policy)
    check_url("https://[::1]:9443/v1.0/users", policy)
    for url in ("https://127.0.0.1:8444/", "https://127.0.0.1/", "https://[::1]:8443/"):
        with pytest.raises(DisallowedURL):
            check_url(url, policy)


def test_host_entries_are_case_insensitive_and_443_is_implied():
    policy = OutboundPolicy(allowed_hosts=frozenset({"Sandbox.Example:443", "other.example"}))

    check_url("https://sandbox.example/x", policy)
    check_url("https://other.example:443/x", policy)


def test_messages_never_show_the_query_string():
    with pytest.raises(DisallowedURL) as caught:
        check_url("https://evil.example/cb?code=SECRETCODE", POLICY)

    assert "SECRETCODE" not in caught.value.message
    assert (
        safe_url("https://u:p@graph.microsoft.com/v1.0/users?$skiptoken=abc#frag")
        == "https://graph.microsoft.com/v1.0/users"
    )


def test_default_hosts_cover_every_cloud_in_graph_wire():
    assert {
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
        "graph.microsoft.com",
        "graph.microsoft.us",
        "dod-graph.microsoft.us",
        "microsoftgraph.chinacloudapi.cn",
        "login.microsoft.com",
        "login.windows.net",
    } == DEFAULT_ALLOWED_HOSTS


# --- against a local HTTPS server ----------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    hits: Counter = Counter()

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _answer(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> None:
        path = self.path.split("?")[0]
        self.hits[path] += 1
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        port = self.server.server_address[1]
        redirects = {
            "/to-ok": "/ok",
            "/loop": "/loop",
            "/to-evil": "https://evil.example/steal",
            "/to-metadata": "https://169.254.169.254/latest/meta-data/",
            "/to-http": f"http://127.0.0.1:{port}/ok",
            "/see-other": "/ok",
        }
        if path in redirects:
            self._answer(303 if path == "/see-other" else 302, Location=redirects[path])
        elif path == "/ok":
            self._answer(200, self.command.encode())
        elif path == "/flaky":  # two 503s, then 200
            self._answer(503, Retry_After="0") if self.hits[path] <= 2 else self._answer(200, b"ok")
        elif path == "/down":
            self._answer(502)
        elif path == "/throttled-long":
            self._answer(429, Retry_After="3600")
        elif path == "/slow":
            time.sleep(1.0)
            self._answer(200, b"late")
        else:
            self._answer(404)

    do_GET = do_POST = _route


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """``(base_url, ca_path)`` of a local HTTPS server trusted through its own CA."""
    cert = issue_server_certificate(tmp_path_factory.mktemp("tls"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert.cert_path, cert.key_path)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", str(cert.ca_path)
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def local(server) -> tuple[str, OutboundPolicy]:
    base, ca_path = server
    _Handler.hits.clear()
    policy = OutboundPolicy(
        allowed_hosts=frozenset({base.removeprefix("https://")}),
        ca_bundle=ca_path,
        timeout=0.5,
        backoff_base=0.01,
        backoff_cap=0.05,
    )
    return base, policy


def test_an_allowed_redirect_is_followed(local):
    base, policy = local

    response = request("GET", f"{base}/to-ok", policy=policy)

    assert response.status_code == 200 and response.text == "GET"


def test_303_turns_a_post_into_a_get(local):
    base, policy = local

    response = request("POST", f"{base}/see-other", policy=policy, data={"a": "b"})

    assert response.text == "GET"


@pytest.mark.parametrize(
    "path, message",
    [
        ("/to-evil", "redirected to https://evil.example/steal, which was refused: Host evil.example is not"),
        ("/to-metadata", "redirected to https://169.254.169.254/latest/meta-data/, which was refused"),
        ("/to-http", "which was refused: Only https:// URLs are allowed"),
    ],
)
def test_a_redirect_to_a_disallowed_target_is_refused(local, path, message):
    base, policy = local

    with pytest.raises(DisallowedURL) as caught:
        request("GET", f"{base}{path}", policy=policy)

    assert message in caught.value.message


def test_redirects_stop_after_three(local):
    base, policy = local

    with pytest.raises(OutboundError) as caught:
        request("GET", f"{base}/loop", policy=policy)

    assert caught.value.kind == "redirect"
    assert "redirected more than 3 times" in caught.value.message
    assert _Handler.hits["/loop"] == 4


def test_transient_5xx_is_retried_until_it_succeeds(local):
    base, policy = local

    response = request("GET", f"{base}/flaky", policy=policy)

    assert response.status_code == 200
    assert _Handler.hits["/flaky"] == 3


def test_a_post_is_retried_only_when_the_caller_says_it_is_safe(local):
    base, policy = local

    assert request("POST", f"{base}/flaky", policy=policy).status_code == 503
    assert _Handler.hits["/flaky"] == 1
    assert request("POST", f"{base}/flaky", policy=policy, retry=True).status_code == 200


def test_after_the_last_retry_the_error_response_is_returned(local):
    base, policy = local

    response = request("GET", f"{base}/down", policy=policy)

    assert response.status_code == 502
    assert _Handler.hits["/down"] == 1 + policy.retries


def test_a_retry_after_beyond_the_cap_is_left_to_the_caller(local):
    base, policy = local

    started = time.monotonic()
    response = request("GET", f"{base}/throttled-long", policy=policy)

    assert response.status_code == 429 and response.headers["Retry-After"] == "3600"
    assert _Handler.hits["/throttled-long"] == 1
    assert time.monotonic() - started < 2


def test_a_slow_answer_times_out_in_plain_words_without_retrying(local):
    base, policy = local

    with pytest.raises(OutboundError) as caught:
        request("GET", f"{base}/slow", policy=policy)

    assert caught.value.kind == "timeout"
    assert caught.value.message == f"No answer from {base.removeprefix('https://')} within 0.5 s."
    assert _Handler.hits["/slow"] == 1


def test_an_untrusted_certificate_is_refused(local):
    base, policy = local
    untrusted = OutboundPolicy(allowed_hosts=policy.allowed_hosts, ca_bundle=None, retries=0)

    with pytest.raises(OutboundError) as caught:
        request("GET", f"{base}/ok", policy=untrusted)

    assert caught.value.kind == "tls"
    assert caught.value.message.startswith(f"TLS certificate of {base.removeprefix('https://')} is not trusted")


def test_a_refused_connection_says_so():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = OutboundPolicy(allowed_hosts=frozenset({f"127.0.0.1:{port}"}), backoff_base=0.01)

    with pytest.raises(OutboundError) as caught:
        request("GET", f"https://127.0.0.1:{port}/x?token=SECRET", policy=policy)

    assert caught.value.kind == "unreachable"
    assert caught.value.message == f"Could not reach 127.0.0.1:{port}: connection refused"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_the_policy_comes_from_django_settings(settings):
    settings.GRAPH_ALLOWED_HOSTS = ["graph.microsoft.com", "127.0.0.1:8765"]
    settings.GRAPH_CA_BUNDLE = "/etc/sandbox-ca.pem"
    settings.GRAPH_HTTP_TIMEOUT = 4

    policy = outbound_policy()

    assert policy.allows("127.0.0.1", 8765) and policy.allows("graph.microsoft.com", 443)
    assert not policy.allows("login.microsoftonline.com", 443)
    assert (policy.ca_bundle, policy.timeout) == ("/etc/sandbox-ca.pem", 4.0)


def test_a_wildcard_entry_admits_names_under_its_domain_only():
    policy = OutboundPolicy(allowed_hosts=frozenset({"*.webhook.office.com"}))
    check_url("https://contoso.webhook.office.com/webhookb2/x", policy)
    check_url("https://a.b.webhook.office.com/x", policy)
    for url in (
        "https://webhook.office.com/x",
        "https://evilwebhook.office.com/x",
        "https://contoso.webhook.office.com.evil.example/x",
        "https://contoso.webhook.office.com:8443/x",
    ):
        with pytest.raises(DisallowedURL):
            check_url(url, policy)
