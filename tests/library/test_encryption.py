"""Secrets are ciphertext at rest, keys rotate, and a missing key is a clear per-row error."""

from __future__ import annotations

import uuid

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.urls import reverse

from connections.encryption import keys
from connections.encryption.fields import UnreadableSecret, plaintext
from connections.encryption.keys import UndecryptableSecret
from connections.management.commands.rotate_encryption_keys import encrypted_fields
from connections.models import Connection
from tests.cast import SECRET_A, SECRET_B

pytestmark = pytest.mark.django_db


def raw_values(model, field) -> dict:
    """What the database really holds, read around the ORM."""
    table, column = model._meta.db_table, field.column
    pk_column = model._meta.pk.column
    with db.cursor() as cursor:
        cursor.execute(f'SELECT "{pk_column}", "{column}" FROM "{table}"')
        return {_normal(pk): value for pk, value in cursor.fetchall()}


def _normal(pk: object) -> str:
    """SQLite returns UUIDs as 32 hex digits, PostgreSQL as UUIDs: compare them as UUID strings."""
    try:
        return str(uuid.UUID(str(pk)))
    except ValueError:
        return str(pk)


def test_every_encrypted_field_holds_ciphertext(connection_a, connection_b):
    fields = list(encrypted_fields())
    assert (Connection, Connection._meta.get_field("client_secret")) in fields
    for model, field in fields:
        for value in raw_values(model, field).values():
            if value:
                assert value.startswith("gAAAAA"), f"{model._meta.label}.{field.name} is not a Fernet token"
                assert SECRET_A not in value and SECRET_B not in value
    stored = raw_values(Connection, Connection._meta.get_field("client_secret"))
    assert keys.decrypt(stored[str(connection_a.pk)]) == SECRET_A
    assert Connection.objects.get(pk=connection_a.pk).client_secret == SECRET_A


def test_rotation_re_encrypts_everything_under_the_new_key(settings, connection_a, connection_b, capsys):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    field = Connection._meta.get_field("client_secret")
    before = raw_values(Connection, field)

    call_command("rotate_encryption_keys", batch_size=1)
    out = capsys.readouterr().out
    assert "connections.Connection.client_secret: 2 rotated, 0 already current, 0 unreadable" in out

    after = raw_values(Connection, field)
    assert all(after[pk] != before[pk] for pk in before)
    only_new = Fernet(new_key)
    assert sorted(only_new.decrypt(token.encode()).decode() for token in after.values()) == sorted([SECRET_A, SECRET_B])
    assert SECRET_A not in out and SECRET_B not in out and before[next(iter(before))] not in out

    call_command("rotate_encryption_keys")  # safe to run again
    assert "0 rotated, 2 already current" in capsys.readouterr().out
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key can now go
    assert Connection.objects.get(pk=connection_a.pk).client_secret == SECRET_A


def test_rotation_reports_unreadable_rows_and_leaves_them(settings, connection_a, capsys):
    field = Connection._meta.get_field("client_secret")
    before = raw_values(Connection, field)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("rotate_encryption_keys")
    out = capsys.readouterr().out
    assert f"1 unreadable (ids: {connection_a.pk})" in out
    assert raw_values(Connection, field) == before


def test_a_wrong_key_is_a_clear_error_naming_row_and_field(settings, connection_a):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    connection = Connection.objects.get(pk=connection_a.pk)
    secret = connection.client_secret
    assert isinstance(secret, UnreadableSecret)
    assert connection.secret_state == "unreadable"
    for use in (str, plaintext, lambda s: s.encode(), lambda s: "x" + s, len):
        with pytest.raises(UndecryptableSecret) as error:
            use(secret)
        message = str(error.value)
        assert f"connections.Connection pk={connection_a.pk} field client_secret" in message
        assert "gAAAAA" not in message
    assert "gAAAAA" not in repr(secret)


def test_an_unreadable_secret_is_shown_and_never_overwritten(settings, login, admin_a, connection_a):
    good_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    client = login(admin_a)
    detail = client.get(reverse("connections:detail", args=[connection_a.pk]))
    assert detail.status_code == 200
    assert "secret unreadable with the configured keys — re-enter it" in detail.content.decode()
    assert "unreadable" in client.get("/").content.decode()
    edit = client.get(reverse("connections:edit", args=[connection_a.pk]))
    assert edit.status_code == 200 and "re-enter it" in edit.content.decode()

    # Saving other fields keeps the unreadable ciphertext as it was.
    from tests.library.test_form_validation import valid_data

    response = client.post(
        reverse("connections:edit", args=[connection_a.pk]),
        valid_data(connection_a.team, name="A users renamed", client_secret=""),
    )
    assert response.status_code == 302
    settings.FIELD_ENCRYPTION_KEYS = good_keys
    connection = Connection.objects.get(pk=connection_a.pk)
    assert connection.name == "A users renamed" and connection.client_secret == SECRET_A


def test_decrypting_needs_no_plaintext_in_errors():
    with pytest.raises(UndecryptableSecret) as error:
        keys.decrypt("gAAAAABnot-a-real-token", what="row 7 field x")
    assert "gAAAAAB" not in str(error.value) and "row 7 field x" in str(error.value)
