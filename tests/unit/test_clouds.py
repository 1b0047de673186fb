"""Microsoft's clouds, kept once in microsoft/clouds.py, and what the dashboard derives from them."""

from __future__ import annotations

import pytest

from connections.models import Connection
from connections.tokens.fetch import permissions_page_url
from microsoft import clouds, outbound, planner, tokenclient

CLIENT = "6731de76-14a6-49ae-97bc-6eba6914391e"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def test_every_clouds_login_and_graph_hosts_are_allowed_by_default(settings):
    for cloud in clouds.CLOUDS.values():
        assert {cloud.login_host, *cloud.login_aliases, *cloud.graph_hosts} <= outbound.DEFAULT_ALLOWED_HOSTS
    assert set(clouds.ALLOWED_HOSTS) == outbound.DEFAULT_ALLOWED_HOSTS
    assert "login.usgovcloudapi.net" not in outbound.DEFAULT_ALLOWED_HOSTS  # recognised, never called


@pytest.mark.parametrize(
    "login_host, cloud",
    [
        ("login.microsoftonline.com", "global"),
        ("login.windows.net", "global"),
        ("https://login.microsoft.com/", "global"),
        ("login.microsoftonline.us", "usgov"),
        ("login.usgovcloudapi.net", "usgov"),
        ("login.partner.microsoftonline.cn", "china"),
        ("127.0.0.1:8765", "global"),
    ],
)
def test_the_cloud_of_a_login_host(login_host, cloud):
    assert tokenclient.cloud_for_login_host(login_host).name == cloud


@pytest.mark.parametrize(
    "login_host, microsoft",
    [
        ("login.microsoftonline.com", True),
        ("https://login.chinacloudapi.cn", True),
        ("login.microsoftonline.us:443", True),
        ("login.microsoftonline.com:8443", False),
        ("127.0.0.1:8765", False),
        ("login.microsoftonline.com.evil.example", False),
    ],
)
def test_microsoft_login_hosts_are_told_from_stand_ins(login_host, microsoft):
    assert tokenclient.is_microsoft_login_host(login_host) is microsoft


def test_the_planner_names_every_cloud_for_the_cli_and_the_page():
    assert planner.AZ_CLOUD_NAMES == {
        "global": "AzureCloud",
        "usgov": "AzureUSGovernment",
        "usdod": "AzureUSGovernment",
        "china": "AzureChinaCloud",
    }
    assert list(planner.CLOUD_LABELS) == list(clouds.CLOUDS)


def test_one_admin_consent_builder_for_a_connections_cloud():
    url = tokenclient.graph_admin_consent_url(
        "login.microsoftonline.us",
        TENANT,
        CLIENT,
        "https://graph.microsoft.us/v1.0",
        redirect_uri="https://dash.example/cb",
        state="s1",
    )
    assert url == (
        f"https://login.microsoftonline.us/{TENANT}/v2.0/adminconsent?client_id={CLIENT}"
        "&scope=https%3A%2F%2Fgraph.microsoft.us%2F.default&redirect_uri=https%3A%2F%2Fdash.example%2Fcb&state=s1"
    )


def _connection(login: str) -> Connection:
    return Connection(
        name="c", tenant=TENANT, client_id=CLIENT, token_url=f"https://{login}/{TENANT}/oauth2/v2.0/token"
    )


def test_the_permissions_page_setting_serves_connections_outside_microsofts_clouds(settings):
    settings.APP_PERMISSIONS_URL_TEMPLATE = "https://stand-in.example:8443/portal?app={client_id}&tenant={tenant}"

    assert permissions_page_url(_connection("stand-in.example:8443")) == (
        f"https://stand-in.example:8443/portal?app={CLIENT}&tenant={TENANT}"
    )
    assert permissions_page_url(_connection("login.microsoftonline.com")) is None  # the Azure portal, always

    settings.APP_PERMISSIONS_URL_TEMPLATE = ""
    assert permissions_page_url(_connection("stand-in.example:8443")) is None
