"""Embedded mode (no broker): a lead delivery is stored and processed in one transaction.

The inbox's promises hold as with a task: the event is stored before its handler runs, a failure
leaves it `failed` with the error (and none of the handler's writes), a replay changes nothing.
"""

from __future__ import annotations

import pytest
from celery import current_app

from clientsflow import webhooks
from clientsflow.models import AuditEvent, WebhookEvent
from clientsflow.webhooks import webhook_event_process, webhook_event_store
from leads.models import Lead, LeadEvent

pytestmark = pytest.mark.django_db


def store_inline(body: bytes, event_id: str = "e-1", provider: str = "leads:website") -> tuple[WebhookEvent, bool]:
    return webhook_event_store(provider=provider, event_id=event_id, body=body, headers={}, inline_when_embedded=True)


def test_a_delivery_is_processed_in_the_same_transaction_without_an_after_commit_task(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event, created = store_inline(b'{"email": "Inline@Example.com", "name": "In Line"}')

    assert created
    stored = WebhookEvent.objects.get(pk=event.pk)
    assert (stored.status, stored.attempts, stored.last_error) == ("processed", 1, "")
    assert stored.processed_at is not None
    lead = Lead.objects.get(email_normalized="inline@example.com")
    assert LeadEvent.objects.filter(lead=lead, kind="created").count() == 1
    assert AuditEvent.objects.filter(verb="lead.created", object_id=str(lead.pk)).count() == 1
    # no processing task waits for the commit (the board's cache bump may)
    assert not any("webhook_event_store" in getattr(cb, "__qualname__", "") for cb in callbacks)


def test_a_replay_counts_the_delivery_and_changes_nothing():
    store_inline(b'{"email": "once@example.com"}')
    events, audits = LeadEvent.objects.count(), AuditEvent.objects.count()

    event, created = store_inline(b'{"email": "once@example.com"}')

    assert not created
    assert (event.status, event.deliveries) == ("processed", 2)
    assert Lead.objects.count() == 1
    assert (LeadEvent.objects.count(), AuditEvent.objects.count()) == (events, audits)


def test_a_failing_handler_leaves_the_event_failed_for_the_sweep_and_nothing_else():
    event, created = store_inline(b'{"email": "x@example.com", "name": {"bad": 1}}')

    assert created
    event.refresh_from_db()
    assert (event.status, event.attempts, event.processed_at) == ("failed", 1, None)
    assert "must be text" in event.last_error
    assert Lead.objects.count() == 0
    with pytest.raises(Exception, match="must be text"):
        webhook_event_process(event_id=event.pk)  # what the sweep does later
    event.refresh_from_db()
    assert event.attempts == 2


def test_what_a_failing_handler_wrote_is_rolled_back_but_the_event_is_kept(monkeypatch):
    def half_then_fail(event):
        Lead.objects.create(email="half@example.com", email_normalized="half@example.com")
        raise RuntimeError("the second write failed")

    monkeypatch.setitem(webhooks._HANDLERS, "halfway", half_then_fail)

    event, created = store_inline(b"{}", provider="halfway:test")

    assert created
    assert WebhookEvent.objects.get(pk=event.pk).status == "failed"
    assert not Lead.objects.filter(email_normalized="half@example.com").exists()


def test_with_a_broker_the_event_is_queued_after_commit_instead(django_capture_on_commit_callbacks):
    was_eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = False
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            event, created = store_inline(b'{"email": "queued@example.com"}')
    finally:
        current_app.conf.task_always_eager = was_eager

    assert created
    assert WebhookEvent.objects.get(pk=event.pk).status == "received"
    assert not Lead.objects.exists()
    assert len(callbacks) == 1
