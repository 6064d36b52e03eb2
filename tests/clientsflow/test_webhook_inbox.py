"""The inbox: failed processing is recorded, replayed from the admin, swept by the dispatcher."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils import timezone

from clientsflow.jobs import webhook_sweep
from clientsflow.models import WebhookEvent
from clientsflow.webhooks import webhook_event_process, webhook_event_store
from leads.models import Lead

pytestmark = pytest.mark.django_db


def stored(body: bytes, event_id: str = "e-1") -> WebhookEvent:
    event, created = webhook_event_store(provider="leads:website", event_id=event_id, body=body, headers={})
    assert created
    return event


def test_a_failing_event_is_marked_failed_with_the_error_and_retried_later():
    event = stored(b'{"email": "x@example.com", "name": {"bad": 1}}')

    with pytest.raises(Exception, match="must be text"):
        webhook_event_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED
    assert event.attempts == 1
    assert "must be text" in event.last_error
    assert Lead.objects.count() == 0


def test_processing_twice_has_one_effect():
    event = stored(b'{"email": "once@example.com"}')
    webhook_event_process(event_id=event.pk)
    webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("processed", 1)
    assert Lead.objects.count() == 1


def test_the_sweep_requeues_old_unprocessed_events(django_capture_on_commit_callbacks):
    # stored, but its task never ran (a broker outage, a lost worker)
    event = stored(b'{"email": "late@example.com"}')
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(minutes=30))
    fresh = stored(b'{"email": "fresh@example.com"}', event_id="e-2")

    result = webhook_sweep()

    assert result == {"requeued": 1}
    event.refresh_from_db()
    fresh.refresh_from_db()
    assert event.status == "processed"
    assert fresh.status == "received"
    assert Lead.objects.filter(email_normalized="late@example.com").exists()


def test_admin_replay_processes_a_failed_event_and_skips_processed_ones(
    admin_client, django_capture_on_commit_callbacks
):
    failed = stored(b'{"email": "retry@example.com"}')
    WebhookEvent.objects.filter(pk=failed.pk).update(status="failed", last_error="broker down")
    done = stored(b'{"email": "done@example.com"}', event_id="e-2")
    webhook_event_process(event_id=done.pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/clientsflow/webhookevent/",
            {"action": "replay", ACTION_CHECKBOX_NAME: [failed.pk, done.pk]},
            follow=True,
        )

    assert b"Queued 1 event" in response.content
    assert b"Skipped 1 already processed" in response.content
    failed.refresh_from_db()
    assert failed.status == "processed"
    assert Lead.objects.filter(email_normalized="retry@example.com").exists()


def test_admin_list_filters_by_status(admin_client):
    stored(b'{"email": "a@example.com"}')
    response = admin_client.get("/admin/clientsflow/webhookevent/?status__exact=received")
    assert response.status_code == 200
    assert b"leads:website" in response.content
