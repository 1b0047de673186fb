"""EncryptedTextField: a TextField stored as a Fernet token and decrypted only when read.

Reading the attribute decrypts; a value no configured key can decrypt reads as an
``UnreadableSecret`` sentinel instead of raising, so pages still render and can say
"re-enter it". Saving a row whose value is unreadable writes the original ciphertext back
unchanged: an unreadable secret is never silently replaced.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from connections.encryption import keys
from connections.encryption.keys import UndecryptableSecret


class Ciphertext:
    """A stored token as loaded from the database, not yet decrypted."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return "<Ciphertext>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ciphertext) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)


_STR_METHODS = frozenset(name for name in dir(str) if not name.startswith("_"))


class UnreadableSecret:
    """Stands in for a value that no configured key decrypts.

    Any use as a string (``str()``, ``.encode()``, concatenation, ``len()``) raises
    ``UndecryptableSecret`` naming the row and field, so a token request can never be sent
    with a placeholder; ``repr()`` is safe for logs and debug pages. Never holds plaintext,
    and never shows the ciphertext it keeps for write-back.
    """

    def __init__(self, model_label: str, pk: Any, field: str, ciphertext: Ciphertext) -> None:
        self.model_label = model_label
        self.pk = pk
        self.field = field
        self._ciphertext = ciphertext

    @property
    def where(self) -> str:
        return f"{self.model_label} pk={self.pk} field {self.field}"

    def error(self) -> UndecryptableSecret:
        return UndecryptableSecret(
            f"{self.where} cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS; re-enter it."
        )

    def __repr__(self) -> str:
        return f"<UnreadableSecret {self.where}>"

    def __str__(self) -> str:
        raise self.error()

    def __len__(self) -> int:
        raise self.error()

    def __add__(self, other: object) -> str:
        raise self.error()

    __radd__ = __add__

    def __getattr__(self, name: str) -> Any:
        # Only string methods are "using" it; other probes (hasattr by Django, copy) see no attribute.
        if name in _STR_METHODS:
            raise self.error()
        raise AttributeError(name)

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnreadableSecret) and other._ciphertext == self._ciphertext

    def __hash__(self) -> int:
        return hash(self._ciphertext)


def plaintext(value: str | UnreadableSecret | None) -> str:
    """The usable string of an encrypted attribute, or the clear per-row error."""
    if isinstance(value, UnreadableSecret):
        raise value.error()
    return value or ""


class _DecryptingAttribute(DeferredAttribute):
    """Decrypts on first read and caches the plaintext on the instance."""

    def __get__(self, instance: models.Model | None, cls: type | None = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if not isinstance(value, Ciphertext):
            return value
        field = self.field
        where = f"{field.model._meta.label} pk={instance.pk} field {field.name}"
        try:
            plain = keys.decrypt(value.token, what=where)
        except UndecryptableSecret:
            return UnreadableSecret(field.model._meta.label, instance.pk, field.name, value)
        instance.__dict__[field.attname] = plain
        return plain

    def __set__(self, instance: models.Model, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.TextField):
    """Text encrypted with keys.encrypt; not searchable, sortable or unique (ciphertext differs per write).

    Empty strings are stored as empty strings (nothing to hide), so "no secret" stays visible.
    """

    descriptor_class = _DecryptingAttribute

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Ciphertext | str | None:
        if value is None or value == "":
            return value
        return Ciphertext(value)

    def to_python(self, value: Any) -> Any:
        return value

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = super().pre_save(model_instance, add)
        # Write an unreadable value back as the very ciphertext that was read: never overwrite it.
        return value._ciphertext if isinstance(value, UnreadableSecret) else value

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, Ciphertext):
            return value.token
        if isinstance(value, UnreadableSecret):
            return value._ciphertext.token
        value = str(value)
        if value == "":
            return ""
        return keys.encrypt(value)
