"""A signed-in session keeps working until it expires, then sends its holder to log in again; a
session ended by logging out is gone (sessions are read through the cache, with the database as the record)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.cached_db import SessionStore
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_a_session_works_until_it_expires(login, viewer_a):
    client = login(viewer_a)
    assert client.get(reverse("connections:list")).status_code == 200

    # Its end comes as Django ends a session: the stored expiry passes (in the database and the cache).
    store = SessionStore(client.session.session_key)
    store.set_expiry(timezone.now() - timedelta(seconds=1))
    store.save()
    assert not Session.objects.filter(expire_date__gt=timezone.now()).exists()

    response = client.get(reverse("connections:list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_logging_out_ends_the_session(login, viewer_a):
    client = login(viewer_a)
    assert client.get(reverse("connections:list")).status_code == 200

    client.post(reverse("logout"))

    assert not Session.objects.exists()
    assert client.get(reverse("connections:list")).status_code == 302
