"""What a Graph request costs and what an answer says about the budget (Microsoft's documented
identity limits: docs/microsoft-wire-facts.md, "Identity and access budget (resource units)")."""

from __future__ import annotations

import base64
import json

import pytest

from microsoft import throttling

GRAPH = "https://graph.microsoft.com/v1.0/"


@pytest.mark.parametrize(
    ("path", "params", "cost"),
    [
        ("users", {}, 2),
        ("users", {"$select": "id,displayName"}, 1),
        ("users", {"$select": "id", "$top": "999"}, 1),
        ("applications", {}, 2),
        ("groups/7f1c/members", {}, 3),
        ("groups/7f1c/members", {"$top": "5"}, 2),
        ("groups/7f1c/transitiveMembers", {}, 5),
        ("groups/7f1c/transitiveMembers", {"$expand": "manager"}, 6),
        ("subscribedSkus", {}, 3),
        ("users/4e2a/memberOf", {}, 2),
        ("organization", {}, 1),
        ("groups", {"$select": "id", "$top": "10"}, 1),  # never below 1
        ("users/delta", {"$deltatoken": "latest"}, 1),  # only whole listed paths cost more
    ],
)
def test_documented_cost_of_a_read(path: str, params: dict[str, str], cost: int) -> None:
    assert throttling.request_cost(GRAPH + path, params) == cost


def test_options_in_a_next_link_count_like_params() -> None:
    link = "https://127.0.0.1:8443/v1.0/users?$select=id&$top=999&$skiptoken=abc"
    assert throttling.request_cost(link) == 1
    assert throttling.request_cost("https://graph.microsoft.com/beta/users") == 2


@pytest.mark.parametrize(
    ("users", "units"), [(None, 3500), (10, 3500), (49, 3500), (50, 5000), (500, 5000), (501, 8000)]
)
def test_budget_by_tenant_size(users: int | None, units: int) -> None:
    assert throttling.tenant_budget(users) == units


def test_answer_headers_are_read() -> None:
    answer = throttling.Answer.of(
        {
            "x-ms-resource-unit": "2",
            "x-ms-throttle-limit-percentage": "0.92",
            "x-ms-throttle-scope": "Tenant_Application/ReadWrite/app-1/tenant-9",
            "retry-after": "3",
        }
    )
    assert answer.resource_units == 2
    assert answer.limit_percentage == pytest.approx(0.92)
    assert answer.retry_after == 3
    assert answer.scope_parts == {
        "scope": "Tenant_Application",
        "limit": "ReadWrite",
        "app_id": "app-1",
        "tenant_id": "tenant-9",
    }


def test_missing_or_odd_headers_say_nothing() -> None:
    answer = throttling.Answer.of({"x-ms-resource-unit": "lots", "x-ms-throttle-limit-percentage": "-1"})
    assert answer == throttling.Answer()
    assert answer.scope_parts == {}


def _token(payload: dict[str, str]) -> str:
    def part(value: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(payload)}.sig"


def test_one_budget_per_app_and_tenant() -> None:
    one = throttling.budget_key(_token({"appid": "A", "tid": "T1"}))
    assert one == throttling.budget_key(_token({"appid": "a", "tid": "t1"}))  # ids are case-insensitive
    assert one != throttling.budget_key(_token({"appid": "A", "tid": "T2"}))
    assert one != throttling.budget_key(_token({"appid": "B", "tid": "T1"}))
    assert throttling.budget_key("not a token") is None
