"""The owner hears of a positive reply and of a reply waiting for review, once each."""

from __future__ import annotations

import pytest
from django.core import mail

from classify.services.classification import classification_review, reply_classify
from clientsflow.models import Notification
from tests.classify.factories import InboundReplyFactory

pytestmark = pytest.mark.django_db


def owner_mail() -> list:
    return [m for m in mail.outbox if m.to == ["owner@agency.example"]]


def test_a_positive_reply_notifies_once_even_when_classified_again(
    owner_notifications, anthropic_off, django_capture_on_commit_callbacks
):
    reply = InboundReplyFactory(body="Not sure it's a fit, but happy to chat.")
    with django_capture_on_commit_callbacks(execute=True):
        reply_classify(reply_id=reply.pk)
        reply_classify(reply_id=reply.pk)
    assert [m.subject for m in owner_mail()] == [f"Positive reply: {reply.lead.name}"]
    assert "happy to chat" in owner_mail()[0].body


def test_a_reply_for_review_notifies_and_its_confirmation_as_positive_too(
    owner_notifications, anthropic_off, admin_user, django_capture_on_commit_callbacks
):
    reply = InboundReplyFactory(body="Not the usual spam, I'll bite. What's the catch?")
    with django_capture_on_commit_callbacks(execute=True):
        classification = reply_classify(reply_id=reply.pk)
    assert [m.subject for m in owner_mail()] == [f"A reply needs your review: {reply.lead.name}"]
    with django_capture_on_commit_callbacks(execute=True):
        classification_review(classification_id=classification.pk, label="positive", actor=admin_user)
        classification_review(classification_id=classification.pk, label="positive", actor=admin_user)
    assert [n.kind for n in Notification.objects.order_by("pk")] == ["reply_needs_review", "reply_positive"]
