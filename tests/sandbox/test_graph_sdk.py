"""Microsoft's Graph SDK for Python (msgraph-sdk) works against the sandbox unchanged.

The client is built the supported way for a custom endpoint: a kiota ``GraphRequestAdapter`` over
an ``httpx.AsyncClient`` that trusts the sandbox's CA and has the sandbox's ``/v1.0`` as base URL,
and an access-token provider that hands out a sandbox token for the sandbox's host.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph_core import GraphClientFactory, PageIterator

from graphsandbox.testing import RunningSandbox

# Every test starts from the sandbox's start state (tests in this file change grants and settings).
pytestmark = pytest.mark.usefixtures("clean_sandbox")


class SandboxTokens(AccessTokenProvider):
    """Hands the SDK a token fetched from the sandbox's token endpoint (only for the sandbox's host)."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self._sandbox = sandbox
        self._hosts = AllowedHostsValidator([urlsplit(sandbox.base_url).hostname or ""])

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        if not self._hosts.is_url_host_valid(uri):
            return ""
        return await asyncio.to_thread(self._sandbox.token)

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._hosts


def graph_client(sandbox: RunningSandbox) -> tuple[GraphServiceClient, GraphRequestAdapter]:
    verify = ssl.create_default_context(cafile=sandbox.ca_path) if sandbox.ca_path else True
    http = httpx.AsyncClient(verify=verify, base_url=sandbox.graph_url, timeout=30)
    http = GraphClientFactory.create_with_default_middleware(client=http)
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(SandboxTokens(sandbox)), http)
    adapter.base_url = sandbox.graph_url
    return GraphServiceClient(request_adapter=adapter), adapter


def test_sdk_lists_every_user_through_all_pages(sandbox: RunningSandbox) -> None:
    async def run() -> list[str]:
        client, adapter = graph_client(sandbox)
        first = await client.users.get()
        ids: list[str] = []

        def collect(user: Any) -> bool:
            ids.append(user.id)
            return True

        await PageIterator(first, adapter).iterate(collect)
        return ids

    ids = asyncio.run(run())
    assert len(ids) == sandbox.control.get("state")["directory"]["users"] == 250
    assert len(set(ids)) == 250


def test_sdk_raises_odata_error_with_graphs_code_on_403(clean_sandbox: RunningSandbox) -> None:
    async def run() -> None:
        client, _ = graph_client(clean_sandbox)
        await client.groups.get()

    with pytest.raises(ODataError) as raised:
        asyncio.run(run())
    assert raised.value.response_status_code == 403
    assert raised.value.error.code == "Authorization_RequestDenied"
    assert raised.value.error.message == "Insufficient privileges to complete the operation."


def test_sdk_retries_a_throttled_request_after_retry_after(clean_sandbox: RunningSandbox) -> None:
    clean_sandbox.control.post("faults", {"path": "/v1.0/users", "status": 429, "count": 1, "retry_after": 1})

    async def run() -> int:
        client, _ = graph_client(clean_sandbox)
        page = await client.users.get()
        return len(page.value)

    started = time.monotonic()
    assert asyncio.run(run()) == 100
    assert time.monotonic() - started >= 1.0
    assert clean_sandbox.control.get("requests")["by_path"]["/v1.0/users"] == 2
