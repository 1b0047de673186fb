"""Settings come from the environment; production mode is strict and says what is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DEBUG", "DJANGO_SETTINGS_MODULE")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_check_is_clean_with_debug_off(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="False",
        SECRET_KEY="x" * 30 + "-Kq9vLp2Zr8Tn4Wm6Yb1Hc3Jd5Fg7Ds0Ax",
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="graphconn.example.com",
        VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_encryption_keys(tmp_path):
    result = _manage("check", DEBUG="False", SECRET_KEY="s" * 60, VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS must be set" in result.stderr


def test_a_malformed_encryption_key_is_a_clear_startup_error(tmp_path):
    result = _manage("check", FIELD_ENCRYPTION_KEYS="not-a-key", VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS entry #1 is not a valid Fernet key" in result.stderr
    assert "not-a-key" not in result.stderr


def test_development_defaults_need_no_services(tmp_path):
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL)",
        VAR_DIR=str(tmp_path),
        DATABASE_URL="",
        CELERY_BROKER_URL="",
        REDIS_URL="",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["django.db.backends.sqlite3", "filesystem://"]
