"""The common cast of every test: two teams, one user per role, one connection per team.

Team A: admin_a (admin), operator_a (operator), viewer_a (viewer); team B: outsider (admin of B
only). ``login(user)`` returns a logged-in test Client. The fixtures reach every package through
``pytest_plugins`` in tests/conftest.py; import the plain functions and values by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

# Distinctive values, so tests can search pages, logs and tables for them.
SECRET_A = "A~cast.SecretValue-8q7w6e5r4t3y2u1i0o9p"
SECRET_B = "B~cast.SecretValue-1a2s3d4f5g6h7j8k9l0z"
TENANT_A = "11111111-2222-3333-4444-555555555555"
CLIENT_A = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def make_user(username: str, *, password: str | None = None, email: str | None = None) -> Any:
    """A user in no team; ``password`` None: one that cannot log in with a password."""
    return get_user_model().objects.create_user(username, email=email, password=password)


def make_member(username: str, team: Any, role: str, *, password: str | None = None) -> Any:
    """A user with ``role`` in ``team``."""
    from connections.models import Membership

    user = make_user(username, email=f"{username}@example.test", password=password)
    Membership.objects.create(team=team, user=user, role=role)
    return user


def make_connection(team: Any, name: str, secret: str = "cast-secret-value~0123456789abcdef", **fields: Any) -> Any:
    from connections.models import Connection

    values: dict[str, Any] = {
        "tenant": TENANT_A,
        "client_id": CLIENT_A,
        "token_url": f"https://login.microsoftonline.com/{TENANT_A}/oauth2/v2.0/token",
        "authorize_url": f"https://login.microsoftonline.com/{TENANT_A}/oauth2/v2.0/authorize",
        "scope": "https://graph.microsoft.com/.default",
        "entity": "users",
        **fields,
    }
    return Connection.objects.create(team=team, name=name, client_secret=secret, **values)


@pytest.fixture
def team_a(db: Any) -> Any:
    from connections.models import Team

    return Team.objects.create(name="Team A")


@pytest.fixture
def team_b(db: Any) -> Any:
    from connections.models import Team

    return Team.objects.create(name="Team B")


@pytest.fixture
def admin_a(team_a: Any) -> Any:
    return make_member("admin_a", team_a, "admin")


@pytest.fixture
def operator_a(team_a: Any) -> Any:
    return make_member("operator_a", team_a, "operator")


@pytest.fixture
def viewer_a(team_a: Any) -> Any:
    return make_member("viewer_a", team_a, "viewer")


@pytest.fixture
def outsider(team_b: Any) -> Any:
    """Admin of team B, and nothing in team A."""
    return make_member("outsider", team_b, "admin")


@pytest.fixture
def superuser(db: Any) -> Any:
    return get_user_model().objects.create_superuser("root", email="root@example.test", password=None)


@pytest.fixture
def connection_a(team_a: Any) -> Any:
    return make_connection(team_a, "A users", secret=SECRET_A)


@pytest.fixture
def connection_b(team_b: Any) -> Any:
    return make_connection(team_b, "B users", secret=SECRET_B)


@pytest.fixture
def connection_factory(db: Any) -> Callable[..., Any]:
    return make_connection


@pytest.fixture
def login(db: Any) -> Callable[[Any], Client]:
    """``login(user)`` → a Client with that user's session (no password hashing: fast)."""

    def _login(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _login
