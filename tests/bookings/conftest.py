from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.bookings.factories import EventTypeFactory

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def event_type(db):
    return EventTypeFactory(slug="intro-call")


@pytest.fixture
def now() -> datetime:
    # Tuesday 1 December 2026, 12:00 UTC (07:00 in New York)
    return datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def service_account_info() -> dict[str, Any]:
    """A throwaway service-account key generated here: nothing real, nothing on the network."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "clientsflow-test",
        "private_key_id": "test-key-1",
        "private_key": pem,
        "client_email": "bookings@clientsflow-test.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


@pytest.fixture
def google_settings(settings, tmp_path, service_account_info):
    """Google Calendar switched on with the throwaway key; retries without waiting."""
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps(service_account_info))
    settings.GOOGLE_SERVICE_ACCOUNT_FILE = str(key_file)
    settings.GOOGLE_DELEGATED_USER = "owner@agency.example"
    settings.BOOKING_GOOGLE_BACKOFF_SECONDS = 0
    return settings


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()
