"""The diagnoses registry: every kind by its key, built by keyword, and stored shapes that load."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from microsoft import diagnoses
from microsoft.diagnoses import REGISTRY, Action, Context, Diagnosis, Severity, Step
from microsoft.diagnoses.core import Registry

CTX = Context(
    connection_name="Contoso HR sync",
    tenant="contoso.onmicrosoft.com",
    client_id="6731de76-14a6-49ae-97bc-6eba6914391e",
    entity_path="users",
    now=datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc),
)
WHEN = datetime(2025, 3, 1, 11, 0, tzinfo=timezone.utc)

# What the dashboard stored before the package existed: a sync run's error (with the extra "kept"
# the store adds) and a token row's, exactly as the JSON columns hold them.
STORED_RUN_ERROR = {
    "key": "sync.interrupted",
    "severity": "warning",
    "title": "The sync was interrupted",
    "explanation": "The worker stopped.",
    "evidence": [["Last sign of life", "2025-03-01 11:00:00 UTC"], ["Pages read before", "3"]],
    "steps": [{"text": "Press Sync now to start again.", "url": None, "action": "retry"}],
    "missing": [],
    "kept": False,
}
STORED_TOKEN_ERROR = {
    "key": "graph.permission_missing",
    "severity": "error",
    "title": "The token lacks User.Read.All",
    "explanation": "…",
    "evidence": [["HTTP status", "403 Forbidden"]],
    "steps": [
        {"text": "Open the permissions page.", "url": "https://portal.azure.com/#x", "action": None},
        {"text": "Grant admin consent.", "url": "https://login.microsoftonline.com/x", "action": "admin_consent"},
        {"text": "Press Re-fetch token.", "url": None, "action": "refetch_token"},
    ],
    "missing": ["User.Read.All"],
}


def samples() -> list[Diagnosis]:
    """One diagnosis from each builder outside the token and Graph tables (tested in test_diagnostics)."""
    return [
        diagnoses.sync.stale(WHEN),
        diagnoses.sync.interrupted("The worker stopped.", WHEN, 3),
        diagnoses.sync.too_long(4, 400),
        diagnoses.sync.crashed(),
        diagnoses.sync.foreign_link("users", "evil.example", "graph.microsoft.com"),
        diagnoses.sync.unreadable_link("users", "The URL has an invalid port.", "graph.microsoft.com"),
        diagnoses.signin.crashed(),
        diagnoses.signin.returned_error("access_denied", "The user cancelled."),
        diagnoses.signin.returned_error("invalid_request", ""),
        diagnoses.consent.not_granted("access_denied", "AADSTS65004: declined", CTX),
        diagnoses.consent.not_granted("invalid_client", "AADSTS650052", CTX),
        diagnoses.credentials.certificate_missing("Contoso HR sync"),
        diagnoses.credentials.certificate_key_unreadable("ConnectionCertificate.private_key"),
        diagnoses.credentials.secret_unreadable("Connection.client_secret"),
        diagnoses.token_endpoint.busy("Contoso HR sync"),
        diagnoses.token_endpoint.sign_in_required("Contoso HR sync", "authorization_code"),
        diagnoses.graph.permission_now_in_token(
            "Users", ("User.Read.All",), "User.Read.All", frozenset({"User.Read.All"})
        ),
    ]


@pytest.mark.parametrize("diagnosis", samples(), ids=lambda d: d.key)
def test_every_builder_makes_a_registered_kind_with_the_actions_it_declares(diagnosis):
    kind = REGISTRY.lookup(diagnosis.key)

    assert kind is not None
    assert diagnosis.controls <= kind.actions
    assert isinstance(diagnosis.severity, Severity)


@pytest.mark.parametrize("diagnosis", samples(), ids=lambda d: d.key)
def test_a_diagnosis_survives_its_json_round_trip(diagnosis):
    stored = json.loads(json.dumps(diagnosis.to_dict()))

    assert Diagnosis.from_dict(stored) == diagnosis
    assert stored["severity"] == str(diagnosis.severity)


@pytest.mark.parametrize("stored", [STORED_RUN_ERROR, STORED_TOKEN_ERROR], ids=lambda s: s["key"])
def test_diagnoses_stored_before_the_registry_still_load_and_keep_their_shape(stored):
    diagnosis = Diagnosis.from_dict(stored)

    assert diagnosis.key == stored["key"] and diagnosis.severity == stored["severity"]
    assert [step.action for step in diagnosis.steps] == [s["action"] for s in stored["steps"]]
    assert diagnosis.to_dict() == {k: v for k, v in stored.items() if k != "kept"}


def test_a_stored_diagnosis_with_an_action_or_severity_this_version_does_not_know_still_loads():
    stored = {**STORED_RUN_ERROR, "severity": "fatal", "steps": [{"text": "Press Frobnicate.", "action": "frobnicate"}]}
    del stored["missing"]

    diagnosis = Diagnosis.from_dict(stored)

    assert diagnosis.severity == Severity.ERROR
    assert diagnosis.steps == [Step("Press Frobnicate.")]


def test_a_diagnosis_is_built_by_keyword_only():
    with pytest.raises(TypeError):
        Diagnosis("sync.stale", "warning", "Title", "Why", [], [])  # type: ignore[misc]


def test_actions_and_severities_compare_equal_to_their_stored_strings():
    assert Action.RETRY == "retry"
    assert Severity.WARNING == "warning"
    assert Step("Try again.", action="retry").action is Action.RETRY


def test_families_take_the_code_microsoft_sent_and_exact_keys_win():
    assert REGISTRY.lookup("signin.access_denied") is diagnoses.signin.RETURNED_ERROR
    assert REGISTRY.lookup("signin.crashed") is diagnoses.signin.CRASHED
    assert REGISTRY.lookup("consent.invalid_request") is diagnoses.consent.NOT_GRANTED
    assert REGISTRY.lookup("nothing.like.this") is None


def test_every_registered_key_is_namespaced_by_its_domain_and_offers_only_known_actions():
    assert "sync.interrupted" in REGISTRY and "graph.permission_missing" in REGISTRY
    assert "token.timeout" in REGISTRY and "graph.timeout" in REGISTRY
    for key, kind in REGISTRY.items():
        assert key.split(".")[0] == kind.domain in {"token", "graph", "sync", "signin", "consent"}
        assert kind.actions <= set(Action)
    assert Action.RETRY in REGISTRY.actions


def test_a_kind_refuses_another_key_and_a_registry_refuses_a_key_twice():
    registry = Registry()
    kind = registry.register("demo.one", Severity.INFO, Action.RETRY, domain="demo")

    with pytest.raises(ValueError):
        kind.build(key="demo.two", title="t", explanation="e")
    with pytest.raises(ValueError):
        registry.register("demo.one", Severity.INFO, domain="demo")


def test_strict_mode_refuses_a_step_its_kind_does_not_declare(monkeypatch):
    kind = Registry().register("demo.one", Severity.INFO, Action.RETRY, domain="demo")
    refetch = [Step("Press Re-fetch token.", action=Action.REFETCH_TOKEN)]

    monkeypatch.setenv("DIAGNOSES_STRICT", "1")
    with pytest.raises(ValueError, match="refetch_token"):
        kind.build(title="t", explanation="e", steps=refetch)
    monkeypatch.setenv("DIAGNOSES_STRICT", "0")
    assert kind.build(title="t", explanation="e", steps=refetch).steps == refetch
