"""Production settings pass Django's deployment checks; the embedded defaults stay safe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "a-production-secret-key-that-is-long-and-random-enough-0123456789-abcdefgh",
    "ALLOWED_HOSTS": "crm.agency.example",
    "SECURE_HTTPS": "1",
    "DATABASE_URL": "sqlite:////tmp/clientsflow-deploy-check.sqlite3",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SECURE_HTTPS")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_when_debug_is_left_on():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env={**PRODUCTION_ENV, "DEBUG": "1"})
    assert result.returncode != 0
    assert "DEBUG" in result.stderr + result.stdout


def test_embedded_defaults_are_safe(settings):
    assert settings.AUTOSEND_ENABLED is False
    assert settings.SEND_ALLOWLIST == []
    assert settings.LEAD_WEBHOOK_SECRET == "" or os.environ.get("LEAD_WEBHOOK_SECRET")
    assert len(settings.SECRET_KEY) >= 50


def test_every_environment_variable_is_documented_in_env_example():
    import re

    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', (ROOT / "clientsflow" / "settings.py").read_text()))
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), flags=re.MULTILINE))
    assert read - documented == set()
    assert read, "the pattern found no variables: update this test"


def test_any_anymail_provider_is_configured_from_the_environment():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; print(settings.EMAIL_BACKEND, settings.ANYMAIL['POSTMARK_SERVER_TOKEN'])",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "clientsflow.settings",
            "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
            "ANYMAIL_POSTMARK_SERVER_TOKEN": "server-token-1",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["anymail.backends.postmark.EmailBackend", "server-token-1"], result.stderr
