from __future__ import annotations

from datetime import UTC, datetime

import factory

from calls.models import Call


class CallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Call

    fireflies_id = factory.Sequence(lambda n: f"ff-meeting-{n:04d}")
    status = Call.Status.FETCHED
    title = factory.Sequence(lambda n: f"Call {n}")
    started_at = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    timezone = "America/New_York"
    organizer_email = "owner@agency.example"
    participants = factory.LazyFunction(list)
    attendees = factory.LazyFunction(list)
    transcript_url = factory.LazyAttribute(lambda o: f"https://app.fireflies.ai/view/{o.fireflies_id}")
    summary = "A short summary."
