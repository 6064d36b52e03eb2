"""An owner notification whose delivery never finished: never sent twice by the system, never
hidden either. After a grace period it is marked `unknown`, audited, counted in "Needs you" (the
board, the admin index, the digest) and the owner sends it again deliberately or dismisses it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from board.selectors import needs_you
from clientsflow.jobs import notifications_stranded
from clientsflow.models import AuditEvent, Notification
from clientsflow.notify import STUCK_AFTER, notification_deliver, notifications_mark_stuck_unknown, owner_notify
from reports.digest import needs_you_items

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/clientsflow/notification/"
LABEL = "Notifications that may not have reached you"


class WorkerDied(BaseException):
    """The worker process killed mid-delivery (no `except Exception` catches it)."""


def owner_mail() -> list:
    return [m for m in mail.outbox if m.to == ["owner@agency.example"]]


def _stuck_notification(monkeypatch, django_capture_on_commit_callbacks) -> Notification:
    """A notification whose worker claimed it (`sending`) and died before recording anything."""
    with django_capture_on_commit_callbacks(execute=False):
        row = owner_notify(kind="booking_created", key="booking_created:9:0", subject="New call", text="Ada booked.")
    assert row is not None

    def die(notification: Notification) -> str:
        raise WorkerDied

    monkeypatch.setattr("clientsflow.notify._send_email", die)
    with pytest.raises(WorkerDied):
        notification_deliver(notification_id=row.pk)
    monkeypatch.undo()
    row.refresh_from_db()
    assert row.status == Notification.Status.SENDING and row.claimed_at is not None
    return row


def _count() -> int:
    return next(item.count for item in needs_you() if item.key == "notification_problems")


def test_a_notification_stuck_in_sending_is_marked_unknown_after_the_grace_period_never_resent(
    owner_notifications, monkeypatch, django_capture_on_commit_callbacks
):
    row = _stuck_notification(monkeypatch, django_capture_on_commit_callbacks)
    assert _count() == 0  # in flight, within the grace period: nothing to say yet

    soon = row.claimed_at + STUCK_AFTER - timedelta(minutes=1)
    assert notifications_mark_stuck_unknown(now=soon) == 0
    later = row.claimed_at + STUCK_AFTER + timedelta(minutes=1)
    assert notifications_mark_stuck_unknown(now=later) == 1
    assert notifications_mark_stuck_unknown(now=later) == 0  # once

    row.refresh_from_db()
    assert row.status == Notification.Status.UNKNOWN and row.sent_at is None
    assert "may or may not have reached you" in row.error
    audit = AuditEvent.objects.get(verb="notification.unknown", object_id=str(row.pk))
    assert audit.details["reason"] == "stale_sending"
    # Never resent by the system: not by the stranded sweep, not by a second delivery attempt.
    assert notifications_stranded()["requeued"] == 0
    notification_deliver(notification_id=row.pk)
    row.refresh_from_db()
    assert row.status == Notification.Status.UNKNOWN and owner_mail() == []
    # Shown to the owner, in words: the board's and admin's "Needs you", and the daily digest.
    item = next(item for item in needs_you() if item.key == "notification_problems")
    assert (item.label, item.count) == (LABEL, 1)
    assert "attention=1" in item.url
    digest_item = next(item for item in needs_you_items() if item.label == LABEL)
    assert digest_item.count == 1 and digest_item.first == ["New call (outcome unknown)"]


def test_the_dispatcher_job_marks_stuck_notifications(
    owner_notifications, monkeypatch, django_capture_on_commit_callbacks
):
    row = _stuck_notification(monkeypatch, django_capture_on_commit_callbacks)
    Notification.objects.filter(pk=row.pk).update(claimed_at=timezone.now() - STUCK_AFTER - timedelta(minutes=1))
    assert notifications_stranded() == {"requeued": 0, "marked_unknown": 1}
    assert Notification.objects.get(pk=row.pk).status == Notification.Status.UNKNOWN


def test_the_board_panel_shows_it_at_once(
    owner_notifications, admin_client, monkeypatch, django_capture_on_commit_callbacks
):
    row = _stuck_notification(monkeypatch, django_capture_on_commit_callbacks)
    panel = admin_client.get("/board/needs-you/", headers={"HX-Request": "true"}).content.decode()
    assert f'<span class="needs-count">0</span> {LABEL}' in panel  # cached now: all clear
    with django_capture_on_commit_callbacks(execute=True):
        notifications_mark_stuck_unknown(now=row.claimed_at + STUCK_AFTER + timedelta(minutes=1))
    panel = admin_client.get("/board/needs-you/", headers={"HX-Request": "true"}).content.decode()
    assert f'<span class="needs-count">1</span> {LABEL}' in panel


def test_a_failed_or_blocked_notification_is_shown_too(owner_notifications, django_capture_on_commit_callbacks):
    owner_notifications.SEND_ALLOWLIST = ["*@client.example"]
    with django_capture_on_commit_callbacks(execute=True):
        owner_notify(kind="booking_created", key="booking_created:1:0", subject="New call", text="Ada booked.")
    assert Notification.objects.get().status == Notification.Status.BLOCKED
    assert _count() == 1


def test_the_owner_sends_it_again_deliberately(
    owner_notifications, admin_client, admin_user, monkeypatch, django_capture_on_commit_callbacks
):
    row = _stuck_notification(monkeypatch, django_capture_on_commit_callbacks)
    notifications_mark_stuck_unknown(now=row.claimed_at + STUCK_AFTER + timedelta(minutes=1))
    listed = admin_client.get(f"{CHANGELIST}?attention=1").content.decode()
    assert "New call" in listed and "Send again" in listed and "Dismiss" in listed

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(CHANGELIST, {"action": "send_again", "_selected_action": [row.pk]}, follow=True)
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.status == Notification.Status.SENT and len(owner_mail()) == 1
    resent = AuditEvent.objects.get(verb="notification.resent", object_id=str(row.pk))
    assert resent.actor_user == admin_user and resent.details["was"] == "unknown"
    assert _count() == 0
    # A sent notification is never sent again, even when selected again.
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, {"action": "send_again", "_selected_action": [row.pk]})
    assert len(owner_mail()) == 1


def test_the_owner_dismisses_it(
    owner_notifications, admin_client, admin_user, monkeypatch, django_capture_on_commit_callbacks
):
    row = _stuck_notification(monkeypatch, django_capture_on_commit_callbacks)
    notifications_mark_stuck_unknown(now=row.claimed_at + STUCK_AFTER + timedelta(minutes=1))
    admin_client.post(CHANGELIST, {"action": "dismiss", "_selected_action": [row.pk]})
    row.refresh_from_db()
    # The outcome stays honestly unknown; it only stops asking for attention.
    assert row.status == Notification.Status.UNKNOWN and row.dismissed_at is not None
    assert AuditEvent.objects.get(verb="notification.dismissed", object_id=str(row.pk)).actor_user == admin_user
    assert _count() == 0 and owner_mail() == []


def test_a_staff_member_without_the_change_permission_cannot_resend(
    owner_notifications, client, monkeypatch, django_capture_on_commit_callbacks
):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    row = _stuck_notification(monkeypatch, django_capture_on_commit_callbacks)
    notifications_mark_stuck_unknown(now=row.claimed_at + STUCK_AFTER + timedelta(minutes=1))
    viewer = get_user_model().objects.create_user("viewer-notify", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_notification"))
    client.force_login(viewer)
    assert "Send again" not in client.get(CHANGELIST).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(CHANGELIST, {"action": "send_again", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.status == Notification.Status.UNKNOWN and owner_mail() == []
