"""The demo's replies are addressed to the sender the demo's emails came from, not a made-up
`owner@localhost`."""

from __future__ import annotations

import random

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from clientsflow.demo import DemoContext
from leads.models import Stage
from outreach.demo import seed_outbound
from outreach.models import InboundReply
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_demo_replies_answer_the_configured_sender(settings):
    settings.DEFAULT_FROM_EMAIL = "Northwind Studio <hello@northwind.example>"
    owner = get_user_model().objects.create_superuser("owner", "", "pw")
    replied = [LeadFactory(stage=Stage.REPLIED) for _ in range(3)]
    ctx = DemoContext(
        rng=random.Random(1), now=timezone.now(), owner=owner, leads_by_stage={"replied": [lead.pk for lead in replied]}
    )
    seed_outbound(ctx)
    replies = list(InboundReply.objects.filter(source=InboundReply.Source.DEMO))
    assert len(replies) == 4  # one each, and one nobody could match
    assert {reply.to_email for reply in replies} == {"hello@northwind.example"}
