"""With DEBUG off, error pages explain in words and show no internals."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_role_too_low_is_explained(login, operator_a, connection_a):
    response = login(operator_a).get(reverse("connections:edit", args=[connection_a.pk]))
    assert response.status_code == 403
    page = response.content.decode()
    assert "This needs the admin role in the team." in page and "Back to connections" in page


def test_an_unknown_or_foreign_object_is_not_found_in_words(login, admin_a, connection_b):
    client = login(admin_a)
    for pk in (uuid.uuid4(), connection_b.pk):
        response = client.get(reverse("connections:detail", args=[pk]))
        assert response.status_code == 404
        assert "There is nothing at this address in your teams" in response.content.decode()


def test_a_server_error_shows_no_internals(login, admin_a, connection_a, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("SELECT secret FROM internals")

    monkeypatch.setattr("connections.views.library.problems", crash)
    client = Client(raise_request_exception=False)
    client.force_login(admin_a)
    response = client.get(reverse("connections:detail", args=[connection_a.pk]))
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong on our side" in page
    assert "SELECT" not in page and "Traceback" not in page


@pytest.mark.parametrize("debug", [True, False])
def test_every_error_a_person_can_meet_has_our_page_with_debug_on_or_off(
    debug, settings, login, admin_a, operator_a, connection_a, connection_b, monkeypatch
):
    settings.DEBUG = debug
    client = login(admin_a)
    for url in ("/no/such/page/", reverse("connections:detail", args=[connection_b.pk])):
        response = client.get(url)
        assert response.status_code == 404
        assert "There is nothing at this address in your teams" in response.content.decode()
    assert client.get("/accounts/login").status_code == 301  # the slash is still added

    response = login(operator_a).get(reverse("connections:edit", args=[connection_a.pk]))
    assert response.status_code == 403 and "This needs the admin role in the team." in response.content.decode()

    response = client.get(reverse("connections:sync_start", args=[connection_a.pk]))
    assert response.status_code == 405 and "Use the button on the page" in response.content.decode()
    assert "POST" in response["Allow"]

    monkeypatch.setattr("connections.views.library.problems", lambda *a, **k: 1 / 0)
    crashing = Client(raise_request_exception=False)
    crashing.force_login(admin_a)
    response = crashing.get(reverse("connections:detail", args=[connection_a.pk]))
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong on our side" in page and "Traceback" not in page and "ZeroDivision" not in page
