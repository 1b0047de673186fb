"""The sandbox imitates Microsoft with facts of its own (hosts, Graph's app id, the GUID shape); they
must be the ones the dashboard keeps in microsoft/clouds.py and the shipped permission reference,
or the dashboard would treat the sandbox differently from the cloud it stands in for."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from graphpermissions import GRAPH_APP_ID
from graphsandbox import front, odata, permissions, tokens
from graphsandbox.testing import RunningSandbox
from microsoft import catalogue, claims, clouds, tokenclient

GLOBAL = clouds.DEFAULT_CLOUD


def test_the_sandbox_names_graph_by_the_global_clouds_resource_and_app_id():
    assert tokens.GRAPH_RESOURCE == GLOBAL.graph_resource
    assert permissions.GRAPH_APP_ID == GRAPH_APP_ID
    assert GRAPH_APP_ID in tokens.GRAPH_AUDIENCES


def test_graphs_401_challenge_names_the_global_login_host_and_graphs_app_id():
    challenge = dict(re.findall(r'(\w+)="([^"]*)"', front.WWW_AUTHENTICATE))
    assert urlsplit(challenge["authorization_uri"]).hostname == GLOBAL.login_host
    assert challenge["client_id"] == GRAPH_APP_ID


@pytest.mark.parametrize(
    "value, guid",
    [
        ("72f988bf-86f1-41af-91ab-2d7cd011db47", True),
        ("72F988BF-86F1-41AF-91AB-2D7CD011DB47", True),
        ("72f988bf86f141af91ab2d7cd011db47", False),
        ("72f988bf-86f1-41af-91ab-2d7cd011db4", False),
        ("g2f988bf-86f1-41af-91ab-2d7cd011db47", False),
    ],
)
def test_the_sandboxs_filter_reads_a_guid_where_the_dashboard_sees_one(value, guid):
    match = odata._TOKEN.match(value)
    assert (match is not None and match.lastgroup == "guid" and match.end() == len(value)) == guid
    assert clouds.is_guid(value) == guid


def test_the_ids_the_sandbox_issues_pass_the_dashboards_checks(sandbox: RunningSandbox):
    assert clouds.is_guid(sandbox.tenant_id) and clouds.is_guid(sandbox.client_id)
    for name, role_id in permissions.APP_ROLE_IDS.items():
        assert clouds.is_guid(role_id), name
        if name in catalogue.APP_ROLE_IDS:
            assert catalogue.APP_ROLE_IDS[name] == role_id, name


def test_the_sandboxs_discovery_document_names_the_global_clouds_graph(sandbox: RunningSandbox):
    document = (
        sandbox.session()
        .get(f"{sandbox.base_url}/{sandbox.tenant_id}/v2.0/.well-known/openid-configuration", timeout=10)
        .json()
    )
    assert document["msgraph_host"] in GLOBAL.graph_hosts
    assert urlsplit(document["userinfo_endpoint"]).hostname in GLOBAL.graph_hosts


def test_a_token_for_the_dashboards_default_scope_is_for_graph(sandbox: RunningSandbox):
    """The dashboard asks the sandbox for its Graph URL's default scope; the token is Graph's."""
    scope = tokenclient.default_scope_or_resource("v2", sandbox.graph_url)
    assert scope == f"{GLOBAL.graph_resource}/.default"
    response = sandbox.token_call(
        client_id=sandbox.client_id, client_secret=sandbox.client_secret, grant_type="client_credentials", scope=scope
    )
    assert response.status_code == 200, response.text
    assert claims.decode(response.json()["access_token"]).audience in tokens.GRAPH_AUDIENCES


def test_entras_error_pages_live_on_a_microsoft_login_host(sandbox: RunningSandbox):
    response = sandbox.token_call(
        client_id=sandbox.client_id,
        client_secret="wrong~secret",
        grant_type="client_credentials",
        scope=f"{GLOBAL.graph_resource}/.default",
    )
    assert response.status_code == 401
    assert tokenclient.is_microsoft_login_host(urlsplit(response.json()["error_uri"]).hostname)
