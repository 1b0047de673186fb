"""HSTS preload is a one-way commitment a deployer opts into: off with DEBUG off, on when asked."""

from __future__ import annotations

from cryptography.fernet import Fernet

from tests.foundation.test_settings import _manage

PRINT = "from django.conf import settings as s; print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_PRELOAD)"


def _production(tmp_path, **env: str) -> str:
    result = _manage(
        "shell",
        "-c",
        PRINT,
        DEBUG="False",
        SECRET_KEY="x" * 30 + "-Kq9vLp2Zr8Tn4Wm6Yb1Hc3Jd5Fg7Ds0Ax",
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        VAR_DIR=str(tmp_path),
        **env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_preload_is_off_in_production_unless_a_setting_turns_it_on(tmp_path):
    assert _production(tmp_path) == "31536000 False"
    assert _production(tmp_path, SECURE_HSTS_PRELOAD="True") == "31536000 True"
