"""Field encryption at rest: one MultiFernet built from settings.FIELD_ENCRYPTION_KEYS, newest first.

The key list is read on every call (cheaply, through a cache keyed on the list) so a changed
setting — a deploy with a new key, or a test's override — takes effect without a restart.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class UndecryptableSecret(Exception):
    """No configured key decrypts a stored value. The message never holds the ciphertext."""


@lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    if not keys:
        raise UndecryptableSecret("FIELD_ENCRYPTION_KEYS is empty: no key to encrypt or decrypt with.")
    fernets = [Fernet(key) for key in keys]
    return MultiFernet(fernets), fernets[0]


def _keys() -> tuple[str, ...]:
    return tuple(settings.FIELD_ENCRYPTION_KEYS)


def encrypt(plaintext: str) -> str:
    """Encrypt under the newest key."""
    return _fernets(_keys())[0].encrypt(plaintext.encode()).decode()


def decrypt(token: str, *, what: str = "a stored value") -> str:
    """Decrypt with any configured key; ``what`` names the row and field in the error."""
    try:
        return _fernets(_keys())[0].decrypt(token.encode()).decode()
    except (InvalidToken, ValueError, TypeError):
        raise UndecryptableSecret(
            f"{what} cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS "
            "(was a key removed before rotating?); re-enter it."
        ) from None


@lru_cache(maxsize=1024)
def _state(token: str, keys: tuple[str, ...]) -> str:  # ``keys``: the cache's key, what decrypt uses
    try:
        return "saved" if decrypt(token) else "none"
    except UndecryptableSecret:
        return "unreadable"


def state(token: str) -> str:
    """ "saved", "none" (an empty value) or "unreadable" for a stored ``token``, without keeping the
    plaintext: a page that only says whether a secret is saved decrypts each token once per process
    and key list (the answer is cached by ciphertext and keys; the plaintext never is)."""
    return _state(token, _keys())


def is_current(token: str) -> bool:
    """True when the newest key already decrypts ``token`` (nothing to rotate)."""
    try:
        _fernets(_keys())[1].decrypt(token.encode())
    except (InvalidToken, ValueError, TypeError):
        return False
    return True


def rotate(token: str, *, what: str = "a stored value") -> str:
    """Re-encrypt ``token`` under the newest key, without the plaintext leaving this call."""
    try:
        return _fernets(_keys())[0].rotate(token.encode()).decode()
    except (InvalidToken, ValueError, TypeError):
        raise UndecryptableSecret(
            f"{what} cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS; re-enter it."
        ) from None
