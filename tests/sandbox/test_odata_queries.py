"""Graph's query options on /users and /groups, with Graph's own error texts (https://learn.microsoft.com/graph/aad-advanced-queries)."""

from __future__ import annotations

import pytest

from graphsandbox.schema import USER_DEFAULT
from tests.sandbox.graph_requests import BASE, EVENTUAL, all_pages, api_for, directory, error, ok

ADVANCED = "Try adding $count=true query parameter and ConsistencyLevel:eventual header."


@pytest.fixture(scope="module")
def d():
    return directory(users=250, groups=30)


@pytest.fixture(scope="module")
def api(d):
    return api_for(d)


@pytest.fixture(scope="module")
def users(d):
    return [u for _, u in d.view("users").iter_from(0)]


def names(items: list[dict]) -> list[str]:
    return [i["id"] for i in items]


@pytest.mark.parametrize("top", ["1", "999"])
def test_top_within_range_limits_the_page(api, top):
    body = ok(api, f"/v1.0/users?$top={top}")
    assert len(body["value"]) == min(int(top), 250)


@pytest.mark.parametrize("top", ["0", "1000", "-5", "ten"])
def test_top_out_of_range_is_refused(api, top):
    assert error(api, f"/v1.0/users?$top={top}") == (
        400,
        "Request_UnsupportedQuery",
        f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive.",
    )


def test_default_properties_are_graphs_list_with_nulls_not_omitted(api, users):
    body = ok(api, "/v1.0/users?$top=999")
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#users"
    assert all(set(u) == set(USER_DEFAULT) for u in body["value"])
    no_mail = next(u for u in body["value"] if u["mail"] is None)
    assert "mail" in no_mail
    assert "department" not in body["value"][0]


def test_select_narrows_properties_and_the_context(api):
    body = ok(api, "/v1.0/users?$select=id,displayName,Department&$top=3")
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#users(id,displayName,department)"
    assert [set(u) for u in body["value"]] == [{"id", "displayName", "department"}] * 3


def test_select_of_an_unknown_property_is_refused(api):
    assert error(api, "/v1.0/users?$select=id,foo") == (
        400,
        "Request_BadRequest",
        "Could not find a property named 'foo' on type 'microsoft.graph.user'.",
    )


def test_option_without_dollar_is_refused(api):
    assert error(api, "/v1.0/users?select=id") == (
        400,
        "Request_BadRequest",
        "Unrecognized query argument specified: 'select'.",
    )


def test_skip_is_not_supported_on_users(api):
    status, code, _ = error(api, "/v1.0/users?$skip=5")
    assert (status, code) == (400, "Request_BadRequest")


def test_filter_eq_is_case_insensitive(api, users):
    target = users[17]
    body = ok(api, f"/v1.0/users?$filter=userPrincipalName eq '{target['userPrincipalName'].upper()}'")
    assert names(body["value"]) == [target["id"]]


def test_filter_startswith(api, users):
    got, _ = all_pages(api, "/v1.0/users?$filter=startswith(displayName,'al')&$select=id")
    assert names(got) == [u["id"] for u in users if u["displayName"].lower().startswith("al")]
    assert got


def test_filter_in_and_or_and_parentheses(api, users):
    got, _ = all_pages(
        api,
        "/v1.0/users?$filter=(jobTitle eq 'Recruiter' or jobTitle eq 'Accountant') "
        "and accountEnabled eq true&$select=id",
    )
    expected = [u["id"] for u in users if u["jobTitle"] in ("Recruiter", "Accountant") and u["accountEnabled"]]
    assert names(got) == expected and expected
    got, _ = all_pages(api, "/v1.0/users?$filter=usageLocation in ('DE','FR')&$select=id")
    assert names(got) == [u["id"] for u in users if u["usageLocation"] in ("DE", "FR")]


def test_filter_null_and_bool_literals(api, users):
    got, _ = all_pages(api, "/v1.0/users?$filter=mail eq null&$select=id")
    assert names(got) == [u["id"] for u in users if u["mail"] is None]


@pytest.mark.parametrize(
    "clause,operator",
    [
        ("jobTitle ne 'Recruiter'", "ne"),
        ("not(startswith(displayName,'a'))", "not"),
        ("endswith(mail,'@contoso.test')", "endsWith"),
    ],
)
def test_advanced_operators_need_consistency_level_and_count(api, users, clause, operator):
    assert error(api, f"/v1.0/users?$filter={clause}") == (
        400,
        "Request_UnsupportedQuery",
        f"Operator '{operator}' is not supported because the required parameters might be missing. "
        f"{ADVANCED} Refer to https://aka.ms/graph-docs/advanced-queries for more information",
    )
    # The header alone is not enough; with $count=true too the query runs.
    assert error(api, f"/v1.0/users?$filter={clause}", EVENTUAL)[0] == 400
    got, pages = all_pages(api, f"/v1.0/users?$filter={clause}&$count=true&$select=id", EVENTUAL)
    check = {
        "ne": lambda u: u["jobTitle"] != "Recruiter",
        "not": lambda u: not u["displayName"].lower().startswith("a"),
        "endsWith": lambda u: (u["mail"] or "").endswith("@contoso.test"),
    }[operator]
    expected = [u["id"] for u in users if check(u)]
    assert names(got) == expected
    assert pages[0]["@odata.count"] == len(expected)


def test_advanced_only_property_needs_the_header(api, users):
    assert error(api, "/v1.0/users?$filter=officeLocation eq 'London 2/204'") == (
        400,
        "Request_UnsupportedQuery",
        "Unsupported or invalid query filter clause specified for property 'officeLocation' of resource 'User'.",
    )
    got, _ = all_pages(api, "/v1.0/users?$filter=officeLocation eq 'London 2/204'&$count=true", EVENTUAL)
    assert names(got) == [u["id"] for u in users if u["officeLocation"] == "London 2/204"]


def test_filter_on_an_unknown_property_or_bad_syntax_is_refused(api):
    assert error(api, "/v1.0/users?$filter=shoeSize eq 42") == (
        400,
        "Request_BadRequest",
        "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'.",
    )
    assert error(api, "/v1.0/users?$filter=displayName eq")[0] == 400
    assert error(api, "/v1.0/users?$filter=contains(displayName,'a')")[1] == "Request_UnsupportedQuery"


def test_group_types_any_lambda(api, d):
    got, _ = all_pages(api, "/v1.0/groups?$filter=groupTypes/any(c:c eq 'Unified')&$select=id,groupTypes")
    groups = [g for _, g in d.view("groups").iter_from(0)]
    assert names(got) == [g["id"] for g in groups if "Unified" in g["groupTypes"]]
    assert got


def test_count_is_silently_omitted_without_the_header(api):
    body = ok(api, "/v1.0/users?$count=true&$top=5")
    assert "@odata.count" not in body and len(body["value"]) == 5


def test_count_appears_on_the_first_page_only(api):
    _, pages = all_pages(api, "/v1.0/users?$count=true&$top=100", EVENTUAL)
    assert pages[0]["@odata.count"] == 250
    assert all("@odata.count" not in p for p in pages[1:]) and len(pages) == 3


def test_count_segment_needs_the_header_and_answers_plain_text(api, users):
    assert error(api, "/v1.0/users/$count") == (400, "Request_BadRequest", "$count is not currently supported.")
    from tests.sandbox.graph_requests import call

    resp = call(api, "/v1.0/users/$count", EVENTUAL)
    assert (resp.status, resp.content_type, resp.body) == (200, "text/plain", "250")
    resp = call(api, "/v1.0/users/$count?$filter=startswith(displayName,'a')", EVENTUAL)
    assert resp.body == str(sum(u["displayName"].lower().startswith("a") for u in users))


@pytest.mark.parametrize("direction", ["", " asc", " desc"])
def test_orderby_display_name(api, users, direction):
    got, _ = all_pages(api, f"/v1.0/users?$orderby=displayName{direction}&$select=id,displayName&$top=60")
    expected = sorted((u["displayName"].lower(), i) for i, u in enumerate(users))
    if direction == " desc":
        expected.reverse()
    assert [g["displayName"].lower() for g in got] == [e[0] for e in expected]
    assert len({g["id"] for g in got}) == 250


def test_orderby_with_filter_is_an_advanced_query(api):
    url = "/v1.0/users?$orderby=userPrincipalName&$filter=startswith(displayName,'a')"
    assert error(api, url)[:2] == (400, "Request_UnsupportedQuery")
    got, _ = all_pages(api, url + "&$count=true", EVENTUAL)
    upns = [g["userPrincipalName"] for g in got]
    assert upns == sorted(upns, key=str.lower) and upns


def test_orderby_on_an_unsupported_property_is_refused(api):
    assert error(api, "/v1.0/groups?$orderby=mail") == (
        400,
        "Request_UnsupportedQuery",
        "Unsupported sort property 'mail' for 'Group'.",
    )


def test_search_needs_the_header(api, users):
    assert error(api, '/v1.0/users?$search="displayName:ma"') == (
        400,
        "Request_UnsupportedQuery",
        "Request with $search query parameter only works through MSGraph with a special request header: "
        "'ConsistencyLevel: eventual'",
    )
    got, _ = all_pages(api, '/v1.0/users?$search="displayName:ma"&$select=id,displayName', EVENTUAL)
    assert got and all(any(w.lower().startswith("ma") for w in g["displayName"].split()) for g in got)


def test_next_link_is_absolute_carries_every_option_and_a_directory_skiptoken(api):
    body = ok(api, "/v1.0/users?$top=7&$select=id,displayName&$filter=accountEnabled eq true")
    link = body["@odata.nextLink"]
    assert link.startswith(f"{BASE}/v1.0/users?")
    assert "$top=7" in link and "$select=id,displayName" in link and "$filter=accountEnabled" in link
    token = link.split("$skiptoken=")[1]
    assert token.startswith("RFNwdA")
    assert ok(api, link)["value"][0]["id"] != body["value"][0]["id"]


def test_a_forged_skiptoken_is_refused(api):
    assert error(api, "/v1.0/users?$skiptoken=bm90LW91cnM")[0] == 400
