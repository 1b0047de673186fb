"""The throttle budget's settings: where it lives, switched off, and bad values refused with a clear
message at start-up (never a budget that silently lets through nothing or everything)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from tests.foundation.test_settings import _manage

PRINT = (
    "from microsoft import throttling as t; b = t.installed(); "
    "print(type(b.store).__name__ if b else 'off', b.fraction if b else '-', b.units if b else '-')"
)


def shell(tmp_path, **env: str):
    return _manage(
        "shell", "-c", PRINT, VAR_DIR=str(tmp_path), FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(), **env
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CELERY_BROKER_URL": ""}, "SQLiteStore 0.9 None"),
        ({"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"}, "RedisStore 0.9 None"),
        (
            {"CELERY_BROKER_URL": "", "GRAPH_THROTTLE_UNITS": "5000", "GRAPH_THROTTLE_FRACTION": "0.5"},
            "SQLiteStore 0.5 5000",
        ),
        ({"GRAPH_THROTTLE_BUDGET": "false"}, "off - -"),
    ],
)
def test_where_the_budget_lives(tmp_path, env: dict[str, str], expected: str) -> None:
    result = shell(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GRAPH_THROTTLE_FRACTION": "1.5"}, "GRAPH_THROTTLE_FRACTION must be more than 0 and at most 1"),
        ({"GRAPH_THROTTLE_FRACTION": "0"}, "GRAPH_THROTTLE_FRACTION must be more than 0 and at most 1"),
        ({"GRAPH_THROTTLE_UNITS": "-1"}, "GRAPH_THROTTLE_UNITS must be 0"),
        ({"GRAPH_THROTTLE_TENANT_UNITS": "72f988bf=lots"}, "GRAPH_THROTTLE_TENANT_UNITS is a list of"),
        ({"GRAPH_THROTTLE_TENANT_UNITS": "=2000"}, "GRAPH_THROTTLE_TENANT_UNITS is a list of"),
    ],
)
def test_bad_values_are_refused_in_words(tmp_path, env: dict[str, str], message: str) -> None:
    result = _manage("check", VAR_DIR=str(tmp_path), FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(), **env)
    assert result.returncode != 0
    assert message in result.stderr


def test_a_named_tenants_budget_is_read(tmp_path) -> None:
    print_units = "from microsoft import throttling as t; print(sorted(t.installed().tenant_units.items()))"
    result = _manage(
        "shell",
        "-c",
        print_units,
        VAR_DIR=str(tmp_path),
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        GRAPH_THROTTLE_TENANT_UNITS="72F988BF-86F1-41AF-91AB-2D7CD011DB47=2000, 0c1a-small=400",
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip().splitlines()[-1]
        == "[('0c1a-small', 400), ('72f988bf-86f1-41af-91ab-2d7cd011db47', 2000)]"
    )
