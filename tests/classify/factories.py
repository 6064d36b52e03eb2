from __future__ import annotations

import factory
from django.utils import timezone

from leads.models import Lead
from outreach.models import InboundReply


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    name = factory.Sequence(lambda n: f"Prospect {n}")
    email = factory.Sequence(lambda n: f"prospect{n}@example.com")
    email_normalized = factory.LazyAttribute(lambda o: o.email.lower())
    source = "website"
    stage = "replied"


class InboundReplyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InboundReply

    lead = factory.SubFactory(LeadFactory)
    source = InboundReply.Source.WEBHOOK
    from_email = factory.LazyAttribute(lambda o: o.lead.email if o.lead else "someone@example.com")
    from_email_normalized = factory.LazyAttribute(lambda o: o.from_email.lower())
    subject = "Re: Quick question"
    body = "Sure, when works for you?"
    message_id = factory.Sequence(lambda n: f"<reply-{n}@mail.example.com>")
    matched_by = InboundReply.MatchedBy.IN_REPLY_TO
    received_at = factory.LazyFunction(timezone.now)
