"""The item URL convention takes only {entity} and {key}, exactly so: a format spec or conversion
inside a placeholder (which str.format would expand, e.g. into a 100 MB string) is a field error."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from connections.models import Connection
from microsoft import graphclient
from tests.library.test_form_validation import valid_data

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "convention",
    [
        "{entity}/{key}{entity:@>100000000}",
        "{entity}/{key:>1000000}",
        "{entity!r}/{key}",
        "{entity}/{key}{}",
        "{entity}/{key}/{0}",
        "{entity}/{key}}",
        "{{entity}}/{key}",
        "{entity.__class__}/{key}",
    ],
)
def test_a_placeholder_with_a_format_spec_or_conversion_is_refused(login, admin_a, team_a, convention):
    client = login(admin_a)
    started = time.monotonic()
    response = client.post(reverse("connections:new"), valid_data(team_a, item_url=convention))
    assert time.monotonic() - started < 2
    assert response.status_code == 200
    assert "Only the placeholders {entity} and {key} may be used" in " ".join(
        response.context["form"].errors["item_url"]
    )
    assert not Connection.objects.exists()


def test_a_long_convention_is_refused(login, admin_a, team_a):
    client = login(admin_a)
    response = client.post(reverse("connections:new"), valid_data(team_a, item_url="{entity}/{key}" + "/x" * 200))
    assert response.status_code == 200
    assert "300" in " ".join(response.context["form"].errors["item_url"])
    assert not Connection.objects.exists()


def test_a_stored_convention_with_a_format_spec_never_expands():
    """A row saved before the check existed: the spec is dropped, not expanded."""
    url = graphclient.item_url("https://graph.microsoft.com/v1.0", "{entity}/{key}{entity:@>100000000}", "users", "a b")
    assert url == "https://graph.microsoft.com/v1.0/users/a%20b"


def test_a_token_url_on_a_graph_path_is_a_field_error(login, admin_a, team_a):
    response = login(admin_a).post(
        reverse("connections:new"), valid_data(team_a, token_url="https://graph.microsoft.com/v1.0")
    )
    assert "This is a Microsoft Graph URL" in " ".join(response.context["form"].errors["token_url"])
    assert not Connection.objects.exists()
