"""Basic permissions (User.ReadBasic.All, Group.ReadBasic.All) read the collection, but only the
basic properties carry values; the fuller permission shows everything."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("clean_sandbox")


def read(sandbox, roles, path):
    app = sandbox.control.post("/_sandbox/apps", {"display_name": "basic", "roles": roles})
    token = sandbox.token(app["client_id"], app["client_secret"])
    answer = sandbox.session().get(
        f"{sandbox.graph_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text[:300]
    return answer.json()


def test_group_read_basic_all_nulls_properties_beyond_the_basic_ones(sandbox):
    path = "/groups?$select=id,displayName,createdDateTime&$top=3"

    basic = read(sandbox, ["Group.ReadBasic.All"], path)["value"]
    full = read(sandbox, ["Group.Read.All"], path)["value"]

    assert basic and all(g["id"] and g["displayName"] and g["createdDateTime"] is None for g in basic)
    assert all(g["createdDateTime"] for g in full)
    assert [g["id"] for g in basic] == [g["id"] for g in full]


def test_user_read_basic_all_keeps_the_basic_profile(sandbox):
    path = "/users?$select=id,displayName,userPrincipalName,department&$top=2"

    users = read(sandbox, ["User.ReadBasic.All"], path)["value"]
    both = read(sandbox, ["User.ReadBasic.All", "User.Read.All"], path)["value"]

    assert all(u["userPrincipalName"] and u["department"] is None for u in users)
    assert all(u["department"] for u in both)
