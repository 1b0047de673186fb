"""The generated directory and its overlay of changes, through Directory's own API."""

from __future__ import annotations

import threading

import pytest

from tests.sandbox.graph_requests import directory


def test_same_seed_gives_identical_directories_and_another_seed_differs():
    a, b, c = directory(seed=3), directory(seed=3), directory(seed=4)
    assert a.sample_users(50) == b.sample_users(50)
    assert a.view("groups").at(5) == b.view("groups").at(5)
    assert a.view("devices").at(9) == b.view("devices").at(9)
    assert [u["id"] for u in a.sample_users(20)] != [u["id"] for u in c.sample_users(20)]


def test_generated_users_look_real_and_are_unique():
    d = directory(users=3000)
    users = d.sample_users(3000)
    assert len({u["id"] for u in users}) == 3000
    assert len({u["userPrincipalName"].lower() for u in users}) == 3000
    first = users[0]
    for prop in (
        "id",
        "displayName",
        "givenName",
        "surname",
        "userPrincipalName",
        "businessPhones",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "department",
        "accountEnabled",
        "createdDateTime",
        "usageLocation",
    ):
        assert prop in first
    assert first["userPrincipalName"].endswith("@contoso.test")
    assert first["displayName"] == f"{first['givenName']} {first['surname']}"
    # Realistic gaps: some users have no mailbox, no mobile number, no job title.
    assert any(u["mail"] is None for u in users) and any(u["mobilePhone"] is None for u in users)
    assert any(u["accountEnabled"] is False for u in users)


def test_default_groups_and_devices_follow_the_user_count():
    d = directory(users=1000, groups=None)
    stats = d.stats()
    assert stats["users"] == 1000 and stats["groups"] > 0 and stats["devices"] > 0
    assert stats["changes"] == 0


def test_lookup_by_id_and_by_upn_in_any_case():
    d = directory()
    user = d.sample_users(40)[-1]
    assert d.get_user(user["id"]) == user
    assert d.get_user(user["id"].upper()) == user
    assert d.get_user(user["userPrincipalName"].upper()) == user
    assert d.get_user("nobody@contoso.test") is None
    assert d.get_user("00000000-0000-0000-0000-000000000000") is None
    group_id = d.view("groups").at(0)["id"]
    assert d.get_user(group_id) is None  # a group's id is not a user
    assert d.get_group(group_id)["id"] == group_id


def test_add_update_delete_user_show_in_reads_stats_and_change_log():
    d = directory(users=10)
    added = d.add_user(
        {
            "displayName": "Nia Okoye",
            "givenName": "Nia",
            "surname": "Okoye",
            "userPrincipalName": "nia.okoye@contoso.test",
        }
    )
    assert d.get_user("NIA.OKOYE@contoso.test")["id"] == added["id"]
    assert added["mail"] is None and added["accountEnabled"] is True
    assert d.stats()["users"] == 11

    base = d.sample_users(1)[0]
    updated = d.update_user(base["id"], {"jobTitle": "CFO", "userPrincipalName": "cfo@contoso.test"})
    assert updated["jobTitle"] == "CFO"
    assert d.get_user("cfo@contoso.test")["jobTitle"] == "CFO"
    assert d.get_user(base["userPrincipalName"]) is None
    assert d.update_user("00000000-0000-4000-8000-000000000000", {"jobTitle": "x"}) is None

    assert d.delete_user(added["id"]) is True
    assert d.delete_user(added["id"]) is False
    assert d.delete_user(base["id"]) is True
    assert d.get_user(base["id"]) is None and d.get_user("cfo@contoso.test") is None
    stats = d.stats()
    assert stats["users"] == 9 and stats["changes"] == 4
    assert [c.op for c in d.changes_since("users", 0)[1]] == ["added", "updated", "deleted", "deleted"]


def test_a_upn_in_use_cannot_be_taken_again():
    d = directory(users=10)
    taken = d.sample_users(1)[0]["userPrincipalName"]
    with pytest.raises(ValueError):
        d.add_user({"displayName": "Clash", "userPrincipalName": taken.upper()})
    other = d.sample_users(2)[1]
    with pytest.raises(ValueError):
        d.update_user(other["id"], {"userPrincipalName": taken})


def test_groups_and_their_membership_changes():
    d = directory(users=200, groups=10)
    group = d.view("groups").at(2)
    members = d.group_member_ids(group["id"])
    assert members and all(d.get_user(m) for m in members)
    d.delete_user(members[0])
    assert members[0] not in d.group_member_ids(group["id"])

    new = d.add_group(
        {
            "displayName": "Project Osprey",
            "mailNickname": "osprey",
            "securityEnabled": True,
            "mailEnabled": False,
            "members": members[1:3],
        }
    )
    assert d.get_group(new["id"])["groupTypes"] == []
    assert d.group_member_ids(new["id"]) == members[1:3]
    d.update_group(group["id"], {"members": [members[1]], "description": "Shrunk"})
    assert d.group_member_ids(group["id"]) == [members[1]]
    assert d.get_group(group["id"])["description"] == "Shrunk"
    assert d.delete_group(new["id"]) and d.get_group(new["id"]) is None
    assert d.stats()["groups"] == 10


def test_reset_drops_every_change():
    d = directory(users=10)
    d.add_user({"displayName": "Temp"})
    d.delete_user(d.sample_users(1)[0]["id"])
    d.reset()
    assert d.stats()["users"] == 10 and d.stats()["changes"] == 0


def test_concurrent_writers_and_readers_stay_consistent():
    d = directory(users=500)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for k in range(50):
                d.add_user({"displayName": f"Writer {n}-{k}"})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(20):
                view = d.view("users")
                assert sum(1 for _ in view.iter_from(0)) == view.count()
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert d.stats()["users"] == 700 and d.seq == 200
