"""Repeated failed log-ins lock that username from that address for a while, and say so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connections.models import LoginFailure
from tests.cast import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    return make_user("alice", password="correct horse battery")


def _login(client, password, username="alice", ip="10.0.0.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_the_right_password_is_refused_while_locked_then_accepted(client, alice):
    for _ in range(3):
        assert b"didn&#x27;t match" in _login(client, "wrong").content
    locked = _login(client, "correct horse battery")
    assert locked.status_code == 200
    assert b"Too many failed log-ins for alice from your address" in locked.content
    assert b"correct horse battery" not in locked.content

    LoginFailure.objects.update(at=timezone.now() - timedelta(hours=1))  # the window has passed
    assert _login(client, "correct horse battery").status_code == 302


def test_the_lock_is_per_address_and_a_success_clears_the_count(client, alice):
    for _ in range(3):
        _login(client, "wrong")
    assert _login(client, "correct horse battery", ip="10.0.0.2").status_code == 302  # another address
    assert not LoginFailure.objects.filter(ip="10.0.0.2").exists()
    assert LoginFailure.objects.filter(ip="10.0.0.1").count() == 3


def test_failures_store_no_password(client, alice):
    _login(client, "hunter2-secret")
    row = LoginFailure.objects.get()
    assert (row.username, row.ip) == ("alice", "10.0.0.1")
    assert "hunter2" not in str(LoginFailure.objects.values().get())


def test_the_admin_log_in_page_is_locked_too(client, django_user_model, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    django_user_model.objects.create_superuser("root", password="correct horse battery")
    for _ in range(2):
        client.post("/admin/login/", {"username": "root", "password": "wrong"}, REMOTE_ADDR="10.0.0.9")
    locked = client.post(
        "/admin/login/", {"username": "root", "password": "correct horse battery"}, REMOTE_ADDR="10.0.0.9"
    )
    assert locked.status_code == 200 and b"Too many failed log-ins" in locked.content
