"""Delta queries on users and groups: initial round, deltaLink, later changes, token expiry."""

from __future__ import annotations

import time

import pytest

from tests.sandbox.graph_requests import BASE, all_pages, api_for, directory, error, ok

EXPIRED = (
    400,
    "syncStateNotFound",
    "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
)


@pytest.fixture
def d():
    return directory(users=230, groups=12)


@pytest.fixture
def api(d):
    return api_for(d)


def initial_round(api, url: str = "/v1.0/users/delta") -> tuple[list[dict], list[dict], str]:
    items, pages = all_pages(api, url)
    return items, pages, pages[-1]["@odata.deltaLink"]


def test_initial_round_pages_everything_and_ends_in_a_delta_link(api):
    items, pages, delta_link = initial_round(api, "/v1.0/users/delta?$select=displayName,jobTitle")
    assert len(items) == 230 and len({i["id"] for i in items}) == 230
    assert all(set(i) == {"id", "displayName", "jobTitle"} for i in items)
    assert pages[0]["@odata.context"] == f"{BASE}/v1.0/$metadata#users(displayName,jobTitle)"
    assert all(p["@odata.nextLink"].startswith(f"{BASE}/v1.0/users/delta?$skiptoken=") for p in pages[:-1])
    assert all("@odata.deltaLink" not in p for p in pages[:-1]) and "@odata.nextLink" not in pages[-1]
    assert delta_link.startswith(f"{BASE}/v1.0/users/delta?$deltatoken=")


def test_nothing_changed_gives_an_empty_page_with_a_new_delta_link(api):
    _, _, delta_link = initial_round(api)
    body = ok(api, delta_link)
    assert body["value"] == [] and body["@odata.deltaLink"].startswith(f"{BASE}/v1.0/users/delta?$deltatoken=")


def test_later_round_reports_added_updated_and_removed_users(api, d):
    _, _, delta_link = initial_round(api, "/v1.0/users/delta?$select=displayName,jobTitle")
    added = d.add_user({"displayName": "Nia Okoye", "userPrincipalName": "nia@contoso.test"})
    victim, changed = d.sample_users(2)
    d.update_user(changed["id"], {"jobTitle": "Chief of Staff"})
    d.delete_user(victim["id"])

    body = ok(api, delta_link)
    by_id = {i["id"]: i for i in body["value"]}
    assert by_id[added["id"]] == {"id": added["id"], "displayName": "Nia Okoye", "jobTitle": None}
    assert by_id[changed["id"]] == {
        "id": changed["id"],
        "displayName": changed["displayName"],
        "jobTitle": "Chief of Staff",
    }
    assert by_id[victim["id"]] == {"id": victim["id"], "@removed": {"reason": "deleted"}}
    assert len(by_id) == 3

    again = ok(api, body["@odata.deltaLink"])
    assert again["value"] == []


def test_many_changes_are_paged_too(api, d):
    _, _, delta_link = initial_round(api)
    for k in range(150):
        d.add_user({"displayName": f"Bulk {k}"})
    items, pages = all_pages(api, delta_link, {"Prefer": "odata.maxpagesize=40"})
    assert len(items) == 150 and len(pages) == 4 and "@odata.deltaLink" in pages[-1]


def test_changes_during_the_initial_round_show_up_in_the_next_one(api, d):
    first = ok(api, "/v1.0/users/delta")
    renamed = d.sample_users(1)[0]
    d.update_user(renamed["id"], {"displayName": "Renamed Mid Round"})
    _, pages = all_pages(api, first["@odata.nextLink"])
    body = ok(api, pages[-1]["@odata.deltaLink"])
    assert [i["displayName"] for i in body["value"]] == ["Renamed Mid Round"]


def test_latest_token_skips_the_initial_round(api, d):
    body = ok(api, "/v1.0/users/delta?$deltatoken=latest")
    assert body["value"] == [] and "@odata.deltaLink" in body and "@odata.nextLink" not in body
    added = d.add_user({"displayName": "After Latest"})
    assert [i["id"] for i in ok(api, body["@odata.deltaLink"])["value"]] == [added["id"]]


def test_expired_unknown_and_pre_reset_tokens_need_a_full_resync(api, d):
    _, _, delta_link = initial_round(api)
    d.delta_token_lifetime = 0.05
    time.sleep(0.1)
    assert error(api, delta_link) == EXPIRED
    d.delta_token_lifetime = 3600
    assert ok(api, delta_link)["value"] == []
    assert error(api, "/v1.0/users/delta?$deltatoken=not-a-token") == EXPIRED
    d.reset()
    assert error(api, delta_link) == EXPIRED


def test_delta_refuses_top_orderby_expand(api):
    for option in ("$top=5", "$orderby=displayName", "$expand=manager"):
        status, code, _ = error(api, f"/v1.0/users/delta?{option}")
        assert (status, code) == (400, "Request_UnsupportedQuery")


def test_delta_filter_by_id_only(api, d):
    a, b = d.sample_users(2)
    body = ok(api, f"/v1.0/users/delta?$filter=id eq '{a['id']}' or id eq '{b['id']}'")
    assert sorted(i["id"] for i in body["value"]) == sorted([a["id"], b["id"]])
    d.update_user(a["id"], {"jobTitle": "Tracked"})
    d.update_user(d.sample_users(3)[2]["id"], {"jobTitle": "Untracked"})
    assert [i["id"] for i in ok(api, body["@odata.deltaLink"])["value"]] == [a["id"]]
    assert error(api, "/v1.0/users/delta?$filter=displayName eq 'x'")[:2] == (400, "Request_UnsupportedQuery")


@pytest.mark.parametrize("segment", ["microsoft.graph.delta()", "delta()", "microsoft.graph.delta"])
def test_sdk_spellings_of_delta(api, segment):
    items, _ = all_pages(api, f"/v1.0/users/{segment}")
    assert len(items) == 230


def test_groups_delta(api, d):
    items, _, delta_link = initial_round(api, "/v1.0/groups/delta?$select=displayName")
    assert len(items) == 12
    gone = d.view("groups").at(3)["id"]
    d.delete_group(gone)
    assert ok(api, delta_link)["value"] == [{"id": gone, "@removed": {"reason": "deleted"}}]


def test_groups_delta_can_carry_members(api, d):
    items, _, delta_link = initial_round(api, "/v1.0/groups/delta?$select=displayName,members")
    group = items[5]
    expected = d.group_member_ids(group["id"])
    assert [m["id"] for m in group["members@delta"]] == expected and expected
    assert all(m["@odata.type"] == "#microsoft.graph.user" for m in group["members@delta"])
    d.update_group(group["id"], {"members": expected[:1]})
    changed = ok(api, delta_link)["value"]
    # A later round sends the membership changes only: here the removed members (docs/microsoft-wire-facts.md).
    removed = [(m["id"], m.get("@removed")) for m in changed[0]["members@delta"]]
    assert [g["id"] for g in changed] == [group["id"]]
    assert removed == [(m, {"reason": "deleted"}) for m in expected[1:]]
