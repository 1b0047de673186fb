"""Signing in with a username and password: Django's ``ModelBackend``, finding the signed-in user
of each request with a query compiled once per process.

After the session, every signed-in page reads its user; Django compiles that one-row query on each
request, at several times the cost of the lookup. Who may sign in, and how passwords are checked,
are ``ModelBackend``'s.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from connections.models.compiled import CompiledQuery

_BY_PK: CompiledQuery[Any] = CompiledQuery(lambda pk: get_user_model()._default_manager.filter(pk=pk), int)


class PasswordBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        user = _BY_PK.first(int(user_id))
        return user if user is not None and self.user_can_authenticate(user) else None
