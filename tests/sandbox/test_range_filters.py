"""Range filters a partitioned read relies on: `ge`/`le`/`startsWith` where the resource pages list
them, a 400 where they do not, and one ordering for every name (case-insensitive, then by code point:
the sandbox's stated assumption, Graph does not document its collation)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import requests

from graphsandbox.testing import RunningSandbox

# Names in several scripts and cases, on and around the boundaries used below.
LOCAL_PARTS = [
    "a",
    "A.b",
    "ab",
    "b",
    "B2",
    "_under",
    "0zero",
    "9nine",
    "zz",
    "ZZ.top",
    "~tilde",
    "{brace",
    "émile",
    "Émile.upper",
    "ωmega",
    "Ωmega.upper",
    "дмитрий",
    "Дарья",
    "李雷",
    "m",
]


@pytest.fixture
def odd_names(clean_sandbox: RunningSandbox) -> Iterator[tuple[RunningSandbox, list[str]]]:
    domain = clean_sandbox.tenant_domain
    upns = [f"{local}@{domain}" for local in LOCAL_PARTS]
    for upn in upns:
        clean_sandbox.control.post("users", {"userPrincipalName": upn, "displayName": upn.split("@")[0]})
    yield clean_sandbox, upns
    clean_sandbox.reset()


@pytest.fixture
def graph(clean_sandbox: RunningSandbox) -> requests.Session:
    http = clean_sandbox.session()
    http.headers["Authorization"] = "Bearer " + clean_sandbox.token()
    return http


def read_all(sandbox: RunningSandbox, http: requests.Session, query: str, headers: dict | None = None) -> list[dict]:
    """Every item of a filtered read, following @odata.nextLink as a client does."""
    url: str | None = f"{sandbox.graph_url}/users?$select=id,userPrincipalName&$top=100&{query}"
    items: list[dict] = []
    while url:
        answer = http.get(url, headers=headers, timeout=60)
        assert answer.status_code == 200, answer.text
        items += answer.json()["value"]
        url = answer.json().get("@odata.nextLink")
    return items


def partitions(boundaries: list[str]) -> list[str]:
    """Microsoft's sample scheme: `le b1`, `ge b1 and le b2`, …, `ge bn` (neighbours share a boundary)."""
    quoted = [b.replace("'", "''") for b in boundaries]
    ranges = [f"userPrincipalName le '{quoted[0]}'"]
    ranges += [
        f"userPrincipalName ge '{lo}' and userPrincipalName le '{hi}'"
        for lo, hi in zip(quoted, quoted[1:], strict=False)
    ]
    return ranges + [f"userPrincipalName ge '{quoted[-1]}'"]


def test_partitions_cover_every_user_and_only_boundary_names_come_twice(odd_names, graph):
    sandbox, upns = odd_names
    serial = read_all(sandbox, graph, "")
    # Letters as in Microsoft's sample, plus boundaries that equal real names in another case.
    boundaries = sorted(
        {chr(c) for c in range(ord("a"), ord("z") + 1)} | {upns[2].upper(), upns[14].upper(), upns[16]},
        key=str.lower,
    )
    seen: Counter[str] = Counter()
    for clause in partitions(boundaries):
        seen.update(u["id"] for u in read_all(sandbox, graph, f"$filter={clause}"))
    assert set(seen) == {u["id"] for u in serial}
    on_boundary = {u["id"] for u in serial if u["userPrincipalName"].lower() in {b.lower() for b in boundaries}}
    assert on_boundary  # the test really has names equal to a boundary
    assert {i for i, n in seen.items() if n == 2} == on_boundary
    assert max(seen.values()) == 2


def test_ranges_compare_case_insensitively_then_by_code_point(odd_names, graph):
    sandbox, upns = odd_names
    domain = sandbox.tenant_domain

    def names(clause: str) -> set[str]:
        found = read_all(sandbox, graph, f"$filter={clause}")
        return {u["userPrincipalName"] for u in found if u["userPrincipalName"] in upns}

    # Above every Latin letter and '~': the accented, Greek, Cyrillic and Chinese names.
    assert names("userPrincipalName ge 'é'") == {
        f"{n}@{domain}" for n in ("émile", "Émile.upper", "ωmega", "Ωmega.upper", "дмитрий", "Дарья", "李雷")
    }
    # Upper case in the literal or in the name makes no difference.
    assert names("userPrincipalName ge 'ZZ' and userPrincipalName le 'ZZ~'") == {f"zz@{domain}", f"ZZ.top@{domain}"}
    assert names("userPrincipalName ge 'Д' and userPrincipalName le 'е'") == {f"дмитрий@{domain}", f"Дарья@{domain}"}
    # Digits and '_' sort before the letters, '{' and '~' after them.
    below_a = names("userPrincipalName le 'a'")
    assert {f"0zero@{domain}", f"9nine@{domain}", f"_under@{domain}"} <= below_a
    assert names("userPrincipalName ge '{' and userPrincipalName le '~~'") == {f"{{brace@{domain}", f"~tilde@{domain}"}
    # Both ends are inclusive: a name equal to a boundary is inside.
    assert names(f"userPrincipalName ge '{upns[1]}' and userPrincipalName le '{upns[1].upper()}'") == {upns[1]}
    assert names("startswith(userPrincipalName,'Ω')") == {f"ωmega@{domain}", f"Ωmega.upper@{domain}"}


def test_count_of_a_range_matches_its_items(odd_names, graph):
    sandbox, _ = odd_names
    eventual = {"ConsistencyLevel": "eventual"}
    clause = "userPrincipalName ge 'b' and userPrincipalName le 'd'"
    items = read_all(sandbox, graph, f"$filter={clause}")
    count = graph.get(f"{sandbox.graph_url}/users/$count", params={"$filter": clause}, headers=eventual, timeout=60)
    assert count.status_code == 200 and count.text == str(len(items)) and items
    first = graph.get(
        f"{sandbox.graph_url}/users", params={"$filter": clause, "$count": "true"}, headers=eventual, timeout=60
    )
    assert first.json()["@odata.count"] == len(items)


def test_counts_of_ranges_equal_counting_the_items_read(odd_names, graph):
    """A range's count (answered from the sandbox's name index) is what reading the range and
    counting its items gives, after users were added, renamed across ranges and deleted."""
    sandbox, _ = odd_names
    users = read_all(sandbox, graph, "$orderby=userPrincipalName")[:6]
    sandbox.control.patch(f"users/{users[0]['id']}", {"userPrincipalName": f"zulu.renamed@{sandbox.tenant_domain}"})
    sandbox.control.patch(f"users/{users[1]['id']}", {"userPrincipalName": f"0.renamed@{sandbox.tenant_domain}"})
    sandbox.control.patch(f"users/{users[2]['id']}", {"displayName": "Renamed, not its principal name"})
    sandbox.control.delete(f"users/{users[3]['id']}")
    sandbox.control.delete(f"users/{users[4]['id']}")
    eventual = {"ConsistencyLevel": "eventual"}
    clauses = [
        f"{lo}{' and ' if lo and hi else ''}{hi}"
        for lo in ("", "userPrincipalName ge 'a'", "userPrincipalName ge 'B'", "userPrincipalName ge 'ω'")
        for hi in ("", "userPrincipalName le 'm'", "userPrincipalName le 'Z'", "userPrincipalName le 'дz'")
        if lo or hi
    ]
    clauses += [
        f"userPrincipalName eq '{users[2]['userPrincipalName']}'",
        f"userPrincipalName eq '{users[3]['userPrincipalName']}'",
        f"userPrincipalName ge '{users[5]['userPrincipalName'].upper()}' and userPrincipalName le 'zz'",
        "userPrincipalName ge 'a' and userPrincipalName le 'm' and accountEnabled eq true",
    ]
    for clause in clauses:
        items = read_all(sandbox, graph, f"$filter={clause}", headers=eventual)
        answer = graph.get(
            f"{sandbox.graph_url}/users/$count", params={"$filter": clause}, headers=eventual, timeout=60
        )
        assert answer.status_code == 200 and int(answer.text) == len(items), clause
        first = graph.get(
            f"{sandbox.graph_url}/users",
            params={"$filter": clause, "$count": "true", "$top": "1", "$select": "id"},
            headers=eventual,
            timeout=60,
        )
        assert first.json()["@odata.count"] == len(items), clause


def refused(sandbox: RunningSandbox, http: requests.Session, path: str) -> tuple[int, str, str]:
    answer = http.get(f"{sandbox.graph_url}{path}", timeout=60)
    error = answer.json()["error"]
    return answer.status_code, error["code"], error["message"]


@pytest.mark.parametrize(
    "path,prop,resource",
    [
        ("/users?$filter=userPrincipalName gt 'a'", "userPrincipalName", "User"),
        ("/users?$filter=userPrincipalName lt 'a'", "userPrincipalName", "User"),
        ("/users?$filter=id ge 'a'", "id", "User"),
        ("/users?$filter=startswith(id,'a')", "id", "User"),
        ("/groups?$filter=id le 'a'", "id", "Group"),
        ("/devices?$filter=deviceId ge 'a'", "deviceId", "Device"),
        ("/applications?$filter=appId ge 'a'", "appId", "Application"),
        ("/servicePrincipals?$filter=displayName gt 'a'", "displayName", "ServicePrincipal"),
    ],
)
def test_operators_the_docs_do_not_list_are_refused(clean_sandbox, graph, path, prop, resource):
    roles = ["Group.Read.All", "Device.Read.All", "Application.Read.All"]
    clean_sandbox.control.post("apps/" + clean_sandbox.client_id + "/grants", {"roles": roles})
    graph.headers["Authorization"] = "Bearer " + clean_sandbox.token()
    assert refused(clean_sandbox, graph, path) == (
        400,
        "Request_UnsupportedQuery",
        f"Unsupported or invalid query filter clause specified for property '{prop}' of resource '{resource}'.",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/groups?$filter=displayName ge 'a' and displayName le 'm'",
        "/groups?$filter=mail ge 'a'",
        "/devices?$filter=displayName le 'm'",
        "/applications?$filter=displayName ge 'a'",
        "/servicePrincipals?$filter=displayName ge 'a' and displayName le 'z'",
        "/users?$filter=mail ge 'a' and mail le 'n'",
    ],
)
def test_range_operators_the_docs_list_are_served(clean_sandbox, graph, path):
    roles = ["Group.Read.All", "Device.Read.All", "Application.Read.All"]
    clean_sandbox.control.post("apps/" + clean_sandbox.client_id + "/grants", {"roles": roles})
    answer = graph.get(
        f"{clean_sandbox.graph_url}{path}", headers={"Authorization": "Bearer " + clean_sandbox.token()}, timeout=60
    )
    assert answer.status_code == 200, answer.text
