"""Repeated failed logins lock that username out from that address for a while, plainly said on
the login page and written to the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from clientsflow.models import AuditEvent

pytestmark = pytest.mark.django_db

PASSWORD = "Owner-Login-Pass-1"
LOGIN = "/admin/login/?next=/board/"


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def owner():
    return get_user_model().objects.create_user("owner", "owner@example.com", PASSWORD, is_staff=True)


def attempt(client: Client, password: str, username: str = "owner"):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/board/"})


def fail_until_locked(client: Client, settings) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "wrong-password")


def test_failed_logins_lock_the_account_out_even_for_the_right_password(owner, settings):
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "wrong-password").status_code == 200  # the form again, with an error

    locked = attempt(client, "wrong-password")
    again = attempt(client, PASSWORD)

    assert locked.status_code == again.status_code == 429
    assert "_auth_user_id" not in client.session
    page = again.content.decode()
    assert "This account is locked" in page
    assert "Try again after" in page
    assert "15 minutes" in page


def test_the_lockout_is_written_to_the_audit_log_without_the_password(owner, settings):
    fail_until_locked(Client(REMOTE_ADDR="203.0.113.7"), settings)

    event = AuditEvent.objects.get(verb="auth.locked_out")
    assert event.actor_label == "owner"
    assert (event.object_type, event.object_id) == ("auth.user", str(owner.pk))
    assert event.details["ip_address"] == "203.0.113.7"
    assert event.details["failures"] == settings.AXES_FAILURE_LIMIT
    assert "wrong-password" not in str(event.details)


def test_an_unknown_username_is_locked_out_and_audited_too(settings):
    fail_until_locked(Client(REMOTE_ADDR="203.0.113.7"), settings)
    attempt(Client(REMOTE_ADDR="203.0.113.7"), "x", username="owner")  # nobody called owner exists

    events = list(AuditEvent.objects.filter(verb="auth.locked_out").order_by("pk"))
    # One at the lockout, one for the try refused during it.
    assert [(e.actor_label, e.object_id) for e in events] == [("owner", ""), ("owner", "")]


def test_the_lockout_is_per_username_and_address(owner, settings):
    fail_until_locked(Client(REMOTE_ADDR="203.0.113.7"), settings)

    elsewhere = Client(REMOTE_ADDR="198.51.100.2")
    response = attempt(elsewhere, PASSWORD)

    assert response.status_code == 302 and response["Location"] == "/board/"


def test_the_account_opens_again_after_the_cool_off(owner, settings):
    from axes.models import AccessAttempt

    client = Client(REMOTE_ADDR="203.0.113.7")
    fail_until_locked(client, settings)
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))

    response = attempt(client, PASSWORD)

    assert response.status_code == 302


def test_a_successful_login_clears_earlier_failures(owner, settings):
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "wrong-password")
    assert attempt(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "wrong-password")

    assert attempt(client, PASSWORD).status_code == 302
    assert not AuditEvent.objects.filter(verb="auth.locked_out").exists()


def test_programmatic_logins_without_a_request_still_work(owner):
    # The test client's login() authenticates with no request; only a web login can be throttled.
    assert Client().login(username="owner", password=PASSWORD)
