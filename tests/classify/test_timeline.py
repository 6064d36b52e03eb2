from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from board.selectors import lead_timeline
from classify.models import Classification
from outreach.models import InboundReply
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_the_lead_timeline_shows_how_its_reply_was_classified_and_the_human_decision(admin_user):
    lead = LeadFactory()
    reply = InboundReply.objects.create(
        lead=lead, source="manual", from_email=lead.email, from_email_normalized=lead.email, received_at=timezone.now()
    )
    Classification.objects.create(
        reply=reply,
        label="neutral",
        confidence=0.61,
        backend="local",
        needs_review=True,
        final_label="positive",
        reviewed_by=admin_user,
        reviewed_at=timezone.now() + timedelta(minutes=5),
    )

    titles = [entry.title for entry in lead_timeline(lead) if entry.kind == "classification"]

    assert titles == ["Reply label set to positive by a person", "Reply classified neutral"]
