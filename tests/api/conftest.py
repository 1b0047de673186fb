"""API fixtures: personal tokens for the cast, and a client that sends one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from connections.accounts import apitokens

API = "/api/v1"


class TokenClient:
    """A test client that sends ``Authorization: Bearer <value>`` with every request."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.client = Client()
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {value}"}

    def get(self, path: str, data: Any = None, **extra: Any) -> Any:
        return self.client.get(API + path, data, **{**self.auth, **extra})

    def post(self, path: str, data: Any = None, **extra: Any) -> Any:
        return self.client.post(API + path, data or {}, content_type="application/json", **{**self.auth, **extra})


@pytest.fixture
def token_for(db: Any) -> Callable[..., apitokens.Made]:
    """``token_for(user, days=30)``: a new personal token of ``user`` (its value in ``.value``)."""

    def make(user: Any, days: int = 30, name: str = "script") -> apitokens.Made:
        return apitokens.create(user, name, days)

    return make


@pytest.fixture
def api_as(token_for: Callable[..., apitokens.Made]) -> Callable[[Any], TokenClient]:
    """``api_as(user)``: a TokenClient with a fresh token of ``user``."""

    def make(user: Any) -> TokenClient:
        return TokenClient(token_for(user).value)

    return make


def expire(made: apitokens.Made) -> None:
    type(made.token).objects.filter(pk=made.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
