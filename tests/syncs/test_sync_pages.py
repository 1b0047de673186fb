"""The run pages: browse with search and pages, the change set, exports, and who may see and do what.
Runs are made in the test process against the sandbox (no worker needed)."""

from __future__ import annotations

import csv
import re
import uuid

import pytest
from django.urls import reverse

from connections.models import SyncRun, SyncVersion
from tests.factories import sandbox_listing

pytestmark = pytest.mark.django_db

ROW = re.compile(r'<tr data-key="([^"]+)"')


@pytest.fixture
def users(sandbox_connection, team_a):
    return sandbox_connection(team_a)


@pytest.fixture
def synced(clean_sandbox, users, operator_a, sync_inline) -> SyncRun:
    clean_sandbox.control.post(
        "/_sandbox/users", {"displayName": "Zoë Ångström", "userPrincipalName": "zoe.angstrom@example.test"}
    )
    run = sync_inline(users, operator_a)
    assert run.status == "succeeded", run.error
    return run


def url(name: str, run: SyncRun) -> str:
    return reverse(f"connections:{name}", args=[run.connection_id, run.pk])


def test_browse_pages_through_every_record_with_the_profiles_columns(login, viewer_a, synced):
    client = login(viewer_a)
    first = client.get(url("sync_detail", synced))
    html = first.content.decode()
    assert first.status_code == 200
    assert len(ROW.findall(html)) == 50 and "Page 1 of 6" in html  # 251 records
    assert '<th scope="col">id</th>' in html and '<th scope="col">displayName</th>' in html
    keys = set()
    for number in range(1, 7):
        keys |= set(ROW.findall(client.get(url("sync_detail", synced), {"page": number}).content.decode()))
    assert len(keys) == 251


def test_search_filters_on_the_server_in_any_field_and_any_case(login, viewer_a, synced, clean_sandbox):
    client = login(viewer_a)
    someone = sandbox_listing(clean_sandbox)[42]

    # Letters outside ASCII match in their own case on SQLite (any case on PostgreSQL).
    by_name = client.get(url("sync_detail", synced), {"q": "ZOë Ång"}).content.decode()
    assert "Zoë Ångström" in by_name and len(ROW.findall(by_name)) == 1
    by_upn = client.get(url("sync_detail", synced), {"q": someone["userPrincipalName"].upper()}).content.decode()
    assert ROW.findall(by_upn) == [someone["id"]]
    nothing = client.get(url("sync_detail", synced), {"q": "no-such-thing-anywhere"}).content.decode()
    assert ROW.findall(nothing) == [] and "No records match" in nothing


def test_an_overlong_or_odd_search_is_answered_not_a_server_error(login, viewer_a, synced):
    client = login(viewer_a)
    long = client.get(url("sync_detail", synced), {"q": "Zoë" + "x" * 60000})
    assert long.status_code == 200
    assert "Search text is limited to 200 characters" in long.content.decode()
    with_nul = client.get(url("sync_detail", synced), {"q": "Zoë\x00 Ång"})
    assert with_nul.status_code == 200 and "Zoë Ångström" in with_nul.content.decode()


def test_search_keeps_its_query_across_pages(login, viewer_a, synced):
    html = login(viewer_a).get(url("sync_detail", synced), {"q": "@"}).content.decode()
    assert "q=%40&amp;page=2" in html


def test_the_changes_page_lists_added_changed_with_fields_and_removed(
    clean_sandbox, users, operator_a, viewer_a, login, sync_inline, synced
):
    listed = sandbox_listing(clean_sandbox)
    changed, removed = listed[10], listed[20]
    clean_sandbox.control.patch(f"/_sandbox/users/{changed['id']}", {"officeLocation": "Moon Base 1"})
    clean_sandbox.control.delete(f"/_sandbox/users/{removed['id']}")
    added = clean_sandbox.control.post(
        "/_sandbox/users", {"displayName": "Nova Newhire", "userPrincipalName": "nova@example.test"}
    )

    second = sync_inline(users, operator_a)

    assert second.mode == "delta" and (second.added, second.changed, second.removed) == (1, 1, 1)
    assert second.rows == synced.rows
    client = login(viewer_a)
    page = client.get(url("sync_changes", second), {"kind": "added"}).content.decode()
    assert re.findall(r'data-change="added" data-key="([^"]+)"', page) == [added["id"]] and "Nova Newhire" in page
    assert "+1 added" in page and "~1 changed" in page and "\u22121 removed" in page
    page = client.get(url("sync_changes", second), {"kind": "changed"}).content.decode()
    assert re.findall(r'data-change="changed" data-key="([^"]+)"', page) == [changed["id"]]
    assert 'data-field="officeLocation"' in page and "Moon Base 1" in page
    page = client.get(url("sync_changes", second), {"kind": "removed"}).content.decode()
    assert re.findall(r'data-change="removed" data-key="([^"]+)"', page) == [removed["id"]]
    panel = client.get(reverse("connections:sync_panel", args=[users.pk])).content.decode()
    assert "+1 ~1 \u22121" in panel

    first_page = client.get(url("sync_changes", synced)).content.decode()
    assert "nothing to compare" in first_page


def test_a_full_rerun_without_delta_is_compared_too(clean_sandbox, sandbox_connection, team_a, operator_a, sync_inline):
    conn = sandbox_connection(team_a, name="enabled", odata_filter="accountEnabled eq true")
    first = sync_inline(conn, operator_a)
    someone = next(
        u for u in sandbox_listing(clean_sandbox) if u["id"] in set(first.records.values_list("key", flat=True))
    )
    clean_sandbox.control.patch(f"/_sandbox/users/{someone['id']}", {"jobTitle": "Renamed"})

    second = sync_inline(conn, operator_a)

    assert second.mode == "full" and (second.added, second.changed, second.removed) == (0, 1, 0)


def test_exports_stream_every_record(login, viewer_a, synced):
    client = login(viewer_a)
    response = client.get(url("sync_export", synced), {"format": "csv"})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="sandbox-users-users-')
    text = b"".join(response.streaming_content).decode()
    assert len(text.splitlines()) == 252 and "Zoë Ångström" in text
    refused = client.get(url("sync_export", synced), {"format": "xml"}, follow=True)
    assert refused.redirect_chain == [(url("sync_detail", synced), 302)]
    assert "Export formats are CSV and JSON Lines." in refused.content.decode()


def test_the_csv_export_defuses_spreadsheet_formulas_in_directory_text(
    login, viewer_a, clean_sandbox, users, operator_a, sync_inline
):
    clean_sandbox.control.post(
        "/_sandbox/users",
        {"displayName": '=HYPERLINK("https://evil.example","x")', "userPrincipalName": "formula@example.test"},
    )
    run = sync_inline(users, operator_a)
    response = login(viewer_a).get(url("sync_export", run), {"format": "csv"})
    text = b"".join(response.streaming_content).decode()
    assert """'=HYPERLINK(""https://evil.example"",""x"")""" in text
    assert not any(line.startswith("=") or ",=" in line for line in text.splitlines())
    jsonl = b"".join(login(viewer_a).get(url("sync_export", run), {"format": "jsonl"}).streaming_content).decode()
    assert '"displayName": "=HYPERLINK(' in jsonl  # JSON Lines keeps the data as Graph gave it


def test_the_csv_export_defuses_formulas_in_lists_and_nested_values_too(
    login, viewer_a, clean_sandbox, users, operator_a, sync_inline
):
    clean_sandbox.control.post(
        "/_sandbox/users",
        {
            "displayName": "Phone Formula",
            "userPrincipalName": "phones@example.test",
            "businessPhones": ['=HYPERLINK("http://evil.example","call")'],
            "mobilePhone": "+44 20 7946 0000",
        },
    )
    clean_sandbox.control.post(
        "/_sandbox/users",
        {
            "displayName": "Dutch Phone",
            "userPrincipalName": "dutch@example.test",
            "businessPhones": ["+31 20 555 0100"],
        },
    )
    users.odata_select = "id,displayName,businessPhones,mobilePhone"
    users.save()
    run = sync_inline(users, operator_a)
    response = login(viewer_a).get(url("sync_export", run), {"format": "csv"})
    rows = list(csv.reader(b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()))
    cells = [cell for row in rows for cell in row]
    assert """'=HYPERLINK("http://evil.example","call")""" in cells
    assert "'+44 20 7946 0000" in cells and "'+31 20 555 0100" in cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_the_export_holds_what_the_search_shows(login, viewer_a, synced):
    client = login(viewer_a)
    page = client.get(url("sync_detail", synced), {"q": "Ångström"}).content.decode()
    assert "the exports hold these records only" in page
    assert "format=csv&amp;q=%C3%85ngstr%C3%B6m" in page
    response = client.get(url("sync_export", synced), {"format": "csv", "q": "Ångström"})
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 2 and "Zoë Ångström" in lines[1]


def test_a_run_that_has_not_succeeded_is_not_exported(login, viewer_a, synced):
    SyncRun.objects.filter(pk=synced.pk).update(status=SyncRun.Status.RUNNING)
    response = login(viewer_a).get(url("sync_export", synced), {"format": "csv"}, follow=True)
    assert not response.streaming and response.redirect_chain == [(url("sync_detail", synced), 302)]
    assert "Only a successful run can be exported; this one is running." in response.content.decode()


def test_a_viewer_sees_runs_but_cannot_sync(login, viewer_a, users, synced):
    client = login(viewer_a)
    detail = client.get(reverse("connections:detail", args=[users.pk])).content.decode()
    assert "Sync now" not in detail and reverse("connections:sync_start", args=[users.pk]) not in detail
    assert f'data-run="{synced.pk}"' in detail
    before = SyncRun.objects.count()
    assert client.post(reverse("connections:sync_start", args=[users.pk])).status_code == 403
    assert SyncRun.objects.count() == before
    assert client.get(reverse("connections:sync_list", args=[users.pk])).status_code == 200


def test_another_team_gets_404_for_every_run_page(login, outsider, users, synced):
    client = login(outsider)
    for name in ("sync_detail", "sync_progress", "sync_changes", "sync_export"):
        assert client.get(url(name, synced)).status_code == 404, name
    assert client.post(reverse("connections:sync_start", args=[users.pk])).status_code == 404
    assert client.get(reverse("connections:sync_list", args=[users.pk])).status_code == 404


def test_a_run_is_only_found_under_its_own_connection(login, operator_a, team_a, sandbox_connection, synced):
    other = sandbox_connection(team_a, name="other")
    response = login(operator_a).get(reverse("connections:sync_detail", args=[other.pk, synced.pk]))
    assert response.status_code == 404


def test_a_run_made_under_an_old_runs_id_shows_its_own_columns_and_records(login, viewer_a, connection_a):
    """The columns and the records table are kept between views; what they are kept by names the run
    itself, so a run saved under a deleted run's id (a database restored from a backup) is read afresh."""

    def published(pk: uuid.UUID, data: dict) -> SyncRun:
        run = SyncRun.objects.create(pk=pk, connection=connection_a, entity="users", status="succeeded", seq=1)
        SyncVersion.objects.create(stream_id=run.stream_id, key=data["id"], valid_from=1, digest="d", data=data)
        return run

    client = login(viewer_a)
    same_id = uuid.uuid4()
    old = published(same_id, {"id": "a-1", "displayName": "Old Person"})
    before = client.get(url("sync_detail", old)).content.decode()
    assert '<th scope="col">displayName</th>' in before and "Old Person" in before

    SyncVersion.objects.filter(stream_id=old.stream_id).delete()
    old.delete()
    new = published(same_id, {"id": "b-2", "mail": "new@example.test"})
    after = client.get(url("sync_detail", new)).content.decode()
    assert '<th scope="col">mail</th>' in after and "new@example.test" in after
    assert "displayName" not in after and "Old Person" not in after and ROW.findall(after) == ["b-2"]
