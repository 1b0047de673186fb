"""Re-encrypt every EncryptedTextField value under the newest FIELD_ENCRYPTION_KEYS key.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS, run this, then drop the old key.
Models are found through the app registry, so every model with an encrypted field is covered.
Rows are handled in batches, each in its own transaction, with a conditional UPDATE on the old
ciphertext; an interrupted run is simply run again. Plaintext is never written anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction

from connections.encryption import keys
from connections.encryption.fields import Ciphertext, EncryptedTextField
from connections.encryption.keys import UndecryptableSecret


def encrypted_fields() -> Iterator[tuple[type[models.Model], EncryptedTextField]]:
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                yield model, field


class Command(BaseCommand):
    help = "Re-encrypt every encrypted value under the newest key in FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, batch_size: int = 500, **options: Any) -> None:
        unreadable_total = 0
        for model, field in encrypted_fields():
            rotated, current, unreadable = self.rotate_field(model, field, batch_size)
            unreadable_total += len(unreadable)
            line = (
                f"{model._meta.label}.{field.name}: {rotated} rotated, {current} already current, "
                f"{len(unreadable)} unreadable"
            )
            if unreadable:
                line += " (ids: " + ", ".join(str(pk) for pk in unreadable) + ")"
            self.stdout.write(line)
        if unreadable_total:
            raise CommandError(
                f"{unreadable_total} value(s) cannot be decrypted with any configured key: re-enter them "
                "(or restore the key that wrote them) before removing old keys."
            )

    def rotate_field(
        self, model: type[models.Model], field: EncryptedTextField, batch_size: int
    ) -> tuple[int, int, list[Any]]:
        rotated = current = 0
        unreadable: list[Any] = []
        manager = model._base_manager
        last_pk = None
        while True:
            with transaction.atomic():
                rows = manager.order_by("pk").select_for_update()
                if last_pk is not None:
                    rows = rows.filter(pk__gt=last_pk)
                batch = list(rows.values_list("pk", field.attname)[:batch_size])
                if not batch:
                    return rotated, current, unreadable
                for pk, value in batch:
                    last_pk = pk
                    if not isinstance(value, Ciphertext):
                        continue  # empty: nothing stored
                    if keys.is_current(value.token):
                        current += 1
                        continue
                    try:
                        new_token = keys.rotate(value.token, what=f"{model._meta.label} pk={pk} field {field.name}")
                    except UndecryptableSecret:
                        unreadable.append(pk)
                        continue
                    # Conditional on the old ciphertext: a concurrent edit wins and is left alone.
                    manager.filter(pk=pk, **{field.attname: value}).update(**{field.attname: Ciphertext(new_token)})
                    rotated += 1
