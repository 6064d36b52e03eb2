"""Owner notifications: once per event, after commit, through the allowlist, honest about failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
import respx
from django.core import mail
from django.db import transaction

from bookings.services import booking_cancel, booking_create, booking_reschedule
from clientsflow.models import AuditEvent, Notification
from clientsflow.notify import owner_notify
from clientsflow.site import site_settings_update
from tests.bookings.factories import EventTypeFactory

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T000/B000/OWNER"
TUE_10_NY = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def owner_mail() -> list:
    return [m for m in mail.outbox if m.to == ["owner@agency.example"]]


def notify(**overrides):
    values = {"kind": "booking_created", "key": "booking_created:1:0", "subject": "New call", "text": "Ada booked."}
    values.update(overrides)
    return owner_notify(**values)


def test_an_event_processed_twice_notifies_once(owner_notifications, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = notify(link="/board/")
        again = notify()
    assert first is not None and again is None
    assert len(owner_mail()) == 1
    assert owner_mail()[0].subject == "New call" and "http://" in owner_mail()[0].body  # the link is absolute
    row = Notification.objects.get()
    assert row.status == Notification.Status.SENT and row.sent_at and row.outcome == {"email": "sent"}
    assert AuditEvent.objects.filter(verb="notification.sent", object_id=str(row.pk)).count() == 1


def test_nothing_is_sent_for_a_rolled_back_event(owner_notifications, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        notify()
        raise RuntimeError("the event's transaction failed")
    assert not Notification.objects.exists() and not owner_mail()


def test_nothing_leaves_before_commit(owner_notifications, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify()
    assert not owner_mail() and Notification.objects.get().status == Notification.Status.PENDING
    assert len(callbacks) == 1


def test_a_switched_off_kind_is_not_sent(owner_notifications, django_capture_on_commit_callbacks):
    site_settings_update(notifications={"booking_created": False})
    with django_capture_on_commit_callbacks(execute=True):
        assert notify() is None
        assert notify(kind="booking_cancelled", key="booking_cancelled:1:1") is not None
    assert [m.subject for m in owner_mail()] == ["New call"]
    assert list(Notification.objects.values_list("kind", flat=True)) == ["booking_cancelled"]


def test_the_allowlist_blocks_the_owner_address_too_and_it_is_audited(
    owner_notifications, django_capture_on_commit_callbacks
):
    owner_notifications.SEND_ALLOWLIST = ["*@client.example"]
    with django_capture_on_commit_callbacks(execute=True):
        notify()
    row = Notification.objects.get()
    assert not mail.outbox
    assert row.status == Notification.Status.BLOCKED and "SEND_ALLOWLIST" in row.error and row.sent_at is None
    blocked = AuditEvent.objects.get(verb="mail.blocked")
    assert blocked.details["purpose"] == "notification:booking_created"
    assert "owner@agency.example" not in json.dumps(blocked.details)
    assert AuditEvent.objects.filter(verb="notification.failed").count() == 1


def test_slack_and_email_both_when_chosen(owner_notifications, django_capture_on_commit_callbacks):
    owner_notifications.SLACK_WEBHOOK_URL = SLACK_URL
    site_settings_update(notify_via="both")
    with respx.mock() as router, django_capture_on_commit_callbacks(execute=True):
        route = router.post(SLACK_URL).mock(return_value=httpx.Response(200, text="ok"))
        notify(link="/board/")
    assert route.call_count == 1
    posted = json.loads(route.calls.last.request.content)["text"]
    assert "New call" in posted and "Ada booked." in posted
    assert len(owner_mail()) == 1
    assert Notification.objects.get().outcome == {"email": "sent", "slack": "sent"}


def test_a_slack_failure_is_recorded_never_reported_as_sent(owner_notifications, django_capture_on_commit_callbacks):
    owner_notifications.SLACK_WEBHOOK_URL = SLACK_URL
    site_settings_update(notify_via="slack")
    with respx.mock() as router, django_capture_on_commit_callbacks(execute=True):
        router.post(SLACK_URL).mock(return_value=httpx.Response(500, text="no_service"))
        notify()
    row = Notification.objects.get()
    assert row.status == Notification.Status.FAILED and row.sent_at is None
    assert "HTTP 500" in row.error
    assert AuditEvent.objects.filter(verb="notification.failed").count() == 1
    assert not AuditEvent.objects.filter(verb="notification.sent").exists()


def test_slack_chosen_but_not_configured_fails_with_what_to_do(owner_notifications, django_capture_on_commit_callbacks):
    site_settings_update(notify_via="slack")
    with django_capture_on_commit_callbacks(execute=True):
        notify()
    row = Notification.objects.get()
    assert row.status == Notification.Status.FAILED and "set SLACK_WEBHOOK_URL" in row.error


def test_an_email_backend_failure_is_recorded(owner_notifications, django_capture_on_commit_callbacks):
    owner_notifications.EMAIL_BACKEND = "tests.clientsflow.test_notify.BrokenBackend"
    with django_capture_on_commit_callbacks(execute=True):
        notify()
    row = Notification.objects.get()
    assert row.status == Notification.Status.FAILED and "ConnectionRefusedError" in row.error


class BrokenBackend:
    def __init__(self, *args, **kwargs) -> None:
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp down")


# --- the events -------------------------------------------------------------------------------


def test_a_booking_its_move_and_its_cancellation_each_notify_once(
    owner_notifications, django_capture_on_commit_callbacks
):
    event_type = EventTypeFactory(slug="intro-call")
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_create(
            event_type=event_type,
            start=TUE_10_NY,
            now=NOW,
            timezone_name="Europe/London",
            name="Ada Lovelace",
            email="ada@example.com",
        )
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_reschedule(booking=booking, start=TUE_10_NY.replace(hour=16), now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking, reason="Found another agency", now=NOW)
    kinds = list(Notification.objects.order_by("pk").values_list("kind", "status"))
    assert kinds == [
        ("booking_created", "sent"),
        ("booking_rescheduled", "sent"),
        ("booking_cancelled", "sent"),
    ]
    subjects = [m.subject for m in owner_mail()]
    assert len(subjects) == 3 and subjects[0].startswith("New call booked: Ada Lovelace")
    assert "Found another agency" in owner_mail()[2].body
    assert f"/board/lead/{booking.lead.public_id}/" in owner_mail()[0].body
