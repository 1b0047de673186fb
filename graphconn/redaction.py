"""Redaction of secrets in log records: the one filter every handler uses.

It rewrites the record's final message (arguments merged in) and any formatted traceback, so
a secret passed as an argument, inside a dict, a URL query, a form body or an exception
message is masked before any handler writes it.
"""

from __future__ import annotations

import logging
import re

MASK = "[redacted]"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # PEM private keys (a certificate credential's key), whole blocks
    (re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S), MASK),
    # Authorization: Bearer eyJ...  /  bearer tokens anywhere
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1" + MASK),
    # graphconn's personal API tokens (gcp_ and 43 base64url characters), wherever they appear
    (re.compile(r"\bgcp_[A-Za-z0-9_-]{8,}"), MASK),
    # JWTs standing alone (three base64url parts, header starting eyJ)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    # form fields and query parameters: client_secret=..., access_token=..., code=... etc.
    (
        re.compile(
            r"(?i)\b((?:client_secret|access_token|refresh_token|id_token|client_assertion|"
            r"code_verifier|password|secret|token|code)=)[^&\s'\"]+"
        ),
        r"\1" + MASK,
    ),
    # dict / JSON shapes: 'client_secret': '...' or "access_token": "..."
    (
        re.compile(
            r"(?i)([\"']?(?:client_secret|access_token|refresh_token|id_token|client_assertion|"
            r"code_verifier|password|secret|authorization)[\"']?\s*[:=]\s*)([\"'])(?:(?!\2).)*\2"
        ),
        r"\1\2" + MASK + r"\2",
    ),
]


def redact(text: str) -> str:
    """Mask every secret-looking part of ``text``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Masks secrets in the message, its arguments and the traceback; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            record.exc_info = None  # the redacted text replaces the raw traceback
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
