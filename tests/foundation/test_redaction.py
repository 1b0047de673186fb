"""The logging filter masks secrets in every shape of log record we emit."""

from __future__ import annotations

import json
import logging

import pytest

from graphconn.redaction import RedactSecretsFilter, redact

SECRET = "Xy8Q~abcdEFGH1234567890_secretvalue.x"
JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2dyYXBoIn0.c2lnbmF0dXJlLXBhcnQ"


@pytest.fixture
def logger():
    log = logging.getLogger("tests.redaction")
    log.propagate = False
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Collect()
    handler.addFilter(RedactSecretsFilter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    yield log, records
    log.removeHandler(handler)


@pytest.mark.parametrize(
    "message, args",
    [
        ("POST body client_secret=%s&grant_type=client_credentials", (SECRET,)),
        ("form %s", ({"client_id": "abc", "client_secret": SECRET},)),
        ("json %s", (json.dumps({"client_secret": SECRET, "access_token": JWT}),)),
        ("headers %s", ({"Authorization": f"Bearer {JWT}"},)),
        ("Authorization: Bearer %s", (JWT,)),
        ("token is %s", (JWT,)),
        ("refresh_token=%s", (SECRET,)),
        ("url https://x/cb?code=%s&state=abc", (SECRET,)),
        ("code_verifier=%s", (SECRET,)),
    ],
)
def test_it_masks_secrets_in_messages_and_arguments(logger, message, args):
    log, records = logger
    log.warning(message, *args)
    assert SECRET not in records[-1]
    assert JWT not in records[-1]
    assert "[redacted]" in records[-1]


def test_it_masks_secrets_in_tracebacks(logger):
    log, records = logger
    try:
        raise ValueError(f"bad request client_secret={SECRET} with Bearer {JWT}")
    except ValueError:
        log.exception("token request failed")
    assert "token request failed" in records[-1]
    assert "ValueError" in records[-1]
    assert SECRET not in records[-1] and JWT not in records[-1]


def test_it_keeps_harmless_text():
    text = "fetched token for connection 'Sandbox users' (expires in 3599 s), roles=User.Read.All"
    assert redact(text) == text


def test_the_project_logging_config_uses_the_filter():
    from django.conf import settings

    console = settings.LOGGING["handlers"]["console"]
    assert "redact" in console["filters"]
    assert settings.LOGGING["filters"]["redact"]["()"] == "graphconn.redaction.RedactSecretsFilter"
