"""The sandbox answers with Graph's costs: resource units per request, the app + tenant budget with
its headers and 429s, $batch, and the latency model (https://learn.microsoft.com/graph/throttling-limits)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests

from graphsandbox.costs import budget_for_users
from graphsandbox.testing import RunningSandbox

LONG_WINDOW = 3600.0  # the bucket hardly refills while a test runs


@pytest.fixture
def costly(clean_sandbox: RunningSandbox) -> Iterator[RunningSandbox]:
    """The session's sandbox with its cost model in the start state, put back off afterwards."""
    clean_sandbox.control.post("apps/" + clean_sandbox.client_id + "/grants", {"roles": ["Application.Read.All"]})
    clean_sandbox.control.post(
        "apps/" + clean_sandbox.client_id + "/grants", {"roles": ["GroupMember.Read.All", "Group.Read.All"]}
    )
    yield clean_sandbox
    clean_sandbox.reset()


@pytest.fixture
def graph(costly: RunningSandbox) -> requests.Session:
    http = costly.session()
    http.headers["Authorization"] = "Bearer " + costly.token()
    return http


def get(sandbox: RunningSandbox, http: requests.Session, path: str, **kw: object) -> requests.Response:
    return http.get(sandbox.graph_url + path, timeout=60, **kw)  # type: ignore[arg-type]


def test_every_answer_carries_the_documented_resource_units(costly, graph):
    group = get(costly, graph, "/groups?$top=1&$select=id").json()["value"][0]["id"]
    user = get(costly, graph, "/users?$top=1&$select=id").json()["value"][0]["id"]
    costly.control.delete("costs")  # count from here
    expected = {
        "/users": 2,  # GET users costs 2
        "/users?$select=id,displayName": 1,  # $select takes 1 off
        "/users?$top=5": 1,  # $top under 20 takes 1 off
        "/users?$top=5&$select=id": 1,  # never below 1
        f"/users/{user}": 1,  # not a listed path
        f"/groups/{group}/members": 3,
        "/applications": 2,
        "/groups": 1,
    }
    for path, cost in expected.items():
        answer = get(costly, graph, path)
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-ms-resource-unit"] == str(cost), path
        assert "x-ms-throttle-limit-percentage" not in answer.headers  # far below 80 %
    account = costly.account()
    assert account["units"] == sum(expected.values()) and account["throttled"] == 0


def test_the_budget_is_sized_from_the_directory_or_set(costly):
    assert [budget_for_users(n) for n in (0, 49, 50, 500, 501)] == [3500, 3500, 5000, 5000, 8000]
    users = costly.control.get("state")["directory"]["users"]
    assert costly.costs()["budget_limit"] == budget_for_users(users)
    assert costly.set_costs(budget=True, budget_units=40)["budget_limit"] == 40


def test_past_eighty_percent_the_answer_says_so_and_past_the_budget_it_is_429(costly, graph):
    costly.set_costs(budget=True, budget_units=10, budget_window_seconds=LONG_WINDOW)
    percentages = []
    for _ in range(10):
        answer = get(costly, graph, "/users?$select=id")  # 1 unit each
        assert answer.status_code == 200
        percentages.append(answer.headers.get("x-ms-throttle-limit-percentage"))
    assert percentages[:8] == [None] * 8 and percentages[8:] == ["0.90", "1.00"]

    throttled = get(costly, graph, "/users?$select=id")
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert (
        throttled.headers["x-ms-throttle-scope"]
        == f"Tenant_Application/ReadWrite/{costly.client_id}/{costly.tenant_id}"
    )
    assert throttled.headers["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"
    assert throttled.json()["error"]["code"] == "TooManyRequests"

    account = costly.account()
    assert (account["units"], account["throttled"], account["peak_window_units"]) == (10, 1, 10)
    assert account["peak_window_fraction"] == 1.0 and account["peak_limit_fraction"] > 1.0


def test_each_app_has_its_own_budget(costly, graph):
    costly.set_costs(budget=True, budget_units=3, budget_window_seconds=LONG_WINDOW)
    while get(costly, graph, "/users?$select=id").status_code == 200:
        pass
    other = costly.control.post("apps", {"display_name": "second reader", "roles": ["User.Read.All"]})
    token = costly.token(other["client_id"], other["client_secret"])
    answer = get(costly, costly.session(), "/users?$select=id", headers={"Authorization": "Bearer " + token})
    assert answer.status_code == 200 and answer.headers["x-ms-resource-unit"] == "1"
    assert costly.account(other["client_id"])["throttled"] == 0 and costly.account()["throttled"] == 1


def test_after_retry_after_the_budget_has_refilled(costly, graph):
    costly.set_costs(budget=True, budget_units=4, budget_window_seconds=2)
    answer = get(costly, graph, "/users?$select=id")
    while answer.status_code == 200:
        answer = get(costly, graph, "/users?$select=id")
    assert answer.status_code == 429
    time.sleep(int(answer.headers["Retry-After"]))
    assert get(costly, graph, "/users?$select=id").status_code == 200
    account = costly.account()
    # Every window so far is on the record; together they hold every unit answered.
    assert sum(account["recent_windows"]) + account["current_window_units"] == account["units"]


def batch(costly: RunningSandbox, http: requests.Session, requests_: list[dict]) -> requests.Response:
    return http.post(costly.graph_url + "/$batch", json={"requests": requests_}, timeout=60)


def test_a_batch_of_twenty_answers_each_request_and_counts_each(costly, graph):
    costly.control.delete("costs")
    answer = batch(
        costly, graph, [{"id": str(i), "method": "GET", "url": "/users?$select=id&$top=3"} for i in range(20)]
    )
    assert answer.status_code == 200
    responses = answer.json()["responses"]
    assert sorted(int(r["id"]) for r in responses) == list(range(20))
    assert all(r["status"] == 200 and len(r["body"]["value"]) == 3 for r in responses)
    assert all(r["headers"]["x-ms-resource-unit"] == "1" for r in responses)
    assert costly.account()["units"] == 20


def test_a_batch_of_twenty_one_is_refused(costly, graph):
    costly.control.delete("costs")
    answer = batch(costly, graph, [{"id": str(i), "method": "GET", "url": "/users"} for i in range(21)])
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BadRequest" and "20" in answer.json()["error"]["message"]
    assert costly.account()["units"] == 0


def test_inside_a_batch_each_request_is_throttled_on_its_own(costly, graph):
    costly.set_costs(budget=True, budget_units=3, budget_window_seconds=LONG_WINDOW)
    answer = batch(costly, graph, [{"id": str(i), "method": "GET", "url": "/users?$select=id"} for i in range(5)])
    assert answer.status_code == 200
    statuses = [r["status"] for r in answer.json()["responses"]]
    assert statuses == [200, 200, 200, 429, 429]
    assert all(int(r["headers"]["Retry-After"]) >= 1 for r in answer.json()["responses"][3:])


def test_a_request_whose_dependency_failed_answers_424(costly, graph):
    answer = batch(
        costly,
        graph,
        [
            {"id": "1", "method": "GET", "url": "/users/no-such-user"},
            {"id": "2", "method": "GET", "url": "/users?$select=id&$top=1", "dependsOn": ["1"]},
        ],
    )
    assert [r["status"] for r in answer.json()["responses"]] == [404, 424]
    duplicate = batch(costly, graph, [{"id": "a", "method": "GET", "url": "/users"}] * 2)
    assert duplicate.status_code == 400


def test_the_latency_model_reproduces_the_published_sequential_figure_and_scales(costly):
    model = costly.costs()["model"]
    assert model["serial_100000_users_seconds"] == pytest.approx(330, abs=0.5)  # ~5.5 minutes
    assert model["page_999_default_properties_seconds"] == pytest.approx(330 / 101, abs=0.05)
    assert model["page_999_id_only_seconds"] < model["page_999_default_properties_seconds"]
    scaled = costly.set_costs(latency=True, latency_scale=0.01)["model"]
    assert scaled["serial_100000_users_seconds"] == pytest.approx(3.3, abs=0.01)


def test_bigger_answers_are_held_longer(costly, graph):
    costly.set_costs(latency=True, latency_scale=0.001)
    held = {}
    for path in ("/users?$top=999", "/users?$top=999&$select=id", "/users?$top=5&$select=id"):
        costly.control.delete("costs")
        assert get(costly, graph, path).status_code == 200
        held[path] = costly.account()["latency_seconds"]
    assert held["/users?$top=999"] > held["/users?$top=999&$select=id"] > held["/users?$top=5&$select=id"] > 0


def test_a_held_answer_does_not_hold_up_other_requests(costly, graph):
    token = graph.headers["Authorization"]
    costly.set_costs(latency=True, latency_scale=2)  # a 250-user page is held about two seconds
    costly.control.delete("costs")
    errors: list[BaseException] = []

    def read() -> None:
        try:
            http = costly.session()
            http.headers["Authorization"] = token
            assert get(costly, http, "/users?$top=999").status_code == 200
        except BaseException as error:  # surfaced below
            errors.append(error)

    slow = threading.Thread(target=read)
    slow.start()
    while costly.costs()["in_flight"] == 0 and slow.is_alive():
        time.sleep(0.01)
    # The control API answered while the Graph request was still being held.
    assert costly.costs()["in_flight"] == 1 or not slow.is_alive()
    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    for thread in [slow, *readers]:
        thread.join()
    assert not errors
    assert costly.costs()["peak_in_flight"] >= 2  # held answers overlap: the server is not serial


def test_cost_settings_are_checked(costly):
    for bad in ({"latency_scale": -1}, {"budget_units": 0}, {"budget": "yes"}, {"budget_window_seconds": 0}, {"x": 1}):
        with pytest.raises(requests.HTTPError) as refused:
            costly.set_costs(**bad)
        assert refused.value.response.status_code == 400


def test_the_command_line_switches_the_models_on(tmp_path):
    from graphsandbox.testing import start_sandbox

    args = ["--latency-scale", "0.01", "--budget-units", "50", "--budget-window", "5"]
    with start_sandbox(users=20, groups=3, extra_args=args, state_dir=tmp_path) as started:
        settings = started.costs()["settings"]
        assert settings["latency"] and settings["budget"]
        assert (settings["latency_scale"], settings["budget_units"], settings["budget_window_seconds"]) == (0.01, 50, 5)
        started.reset()  # back to the start flags, not to off
        assert started.costs()["settings"] == settings
    with start_sandbox(users=20, groups=3, extra_args=["--budget"], state_dir=tmp_path / "s") as small:
        assert small.costs()["budget_limit"] == 3500  # under 50 users


def test_finished_windows_are_kept_for_a_benchmark_to_read(costly, graph):
    costly.set_costs(budget=True, budget_units=100, budget_window_seconds=0.5)
    for _ in range(3):
        assert get(costly, graph, "/users?$select=id").status_code == 200
    time.sleep(1.2)  # let the window (and the next, idle one) finish
    account = costly.account()
    assert sum(account["recent_windows"]) == 3 and account["current_window_units"] == 0
    assert len(account["recent_windows"]) >= 2 and account["recent_windows"][-1] == 0
