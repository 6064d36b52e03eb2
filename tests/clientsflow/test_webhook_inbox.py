"""The inbox: failed processing is recorded, replayed from the admin, swept by the dispatcher."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import RequestFactory
from django.utils import timezone

from clientsflow.jobs import webhook_sweep
from clientsflow.models import WebhookEvent
from clientsflow.payloads import decode_json_object
from clientsflow.webhooks import (
    Delivery,
    json_error,
    webhook_event_process,
    webhook_event_store,
    webhook_receive,
)
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


def _receive(body: bytes, *, signed: bool = True):
    request = RequestFactory().post("/hook/", data=body, content_type="application/json")
    seen: list[str] = []

    def verify(_request, raw):
        seen.append("verify")
        return None if signed and raw == body else json_error("forged", 401)

    def parse(raw):
        seen.append("parse")
        return decode_json_object(raw)

    return webhook_receive(request, max_bytes=32, too_large="Too big.", verify=verify, parse=parse), seen


def test_the_shared_preamble_checks_size_then_signature_then_shape_and_writes_nothing():
    received, seen = _receive(b'{"id": "a"}')
    assert isinstance(received, Delivery) and received.payload == {"id": "a"} and received.body == b'{"id": "a"}'
    assert seen == ["verify", "parse"]

    too_big, seen = _receive(b'{"id": "' + b"x" * 40 + b'"}')
    assert too_big.status_code == 413 and json.loads(too_big.content) == {"error": "Too big."} and seen == []

    forged, seen = _receive(b'{"id": "a"}', signed=False)
    assert forged.status_code == 401 and seen == ["verify"]  # an unverified body is never parsed

    not_an_object, seen = _receive(b"[1, 2]")
    assert not_an_object.status_code == 400 and "JSON object" in json.loads(not_an_object.content)["error"]
    assert WebhookEvent.objects.count() == 0
