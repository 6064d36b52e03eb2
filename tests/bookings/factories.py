from __future__ import annotations

from datetime import time, timedelta

import factory

from bookings.models import Booking, EventType, Host, WeeklyHours


class HostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Host

    name = "Olivia Owner"
    email = "owner@agency.example"
    timezone = "America/New_York"


class EventTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EventType
        skip_postgeneration_save = True

    host = factory.SubFactory(HostFactory)
    slug = factory.Sequence(lambda n: f"intro-call-{n}")
    title = "Intro call"
    duration_minutes = 30
    slot_interval_minutes = 30
    min_notice_minutes = 60
    days_ahead = 30

    @factory.post_generation
    def weekdays(self, create, extracted, **kwargs):
        """Weekdays 09:00-17:00 unless `weekdays=False` or a list of (weekday, start, end)."""
        if not create or extracted is False:
            return
        rows = extracted or [(day, time(9), time(17)) for day in range(5)]
        for weekday, start, end in rows:
            WeeklyHours.objects.create(event_type=self, weekday=weekday, start_time=start, end_time=end)


class BookingFactory(factory.django.DjangoModelFactory):
    """A booking row written directly (tests of selectors, badges, reminders, ICS)."""

    class Meta:
        model = Booking

    event_type = factory.SubFactory(EventTypeFactory)
    host = factory.LazyAttribute(lambda o: o.event_type.host)
    lead = factory.SubFactory("tests.bookings.factories.LeadFactory")
    end_at = factory.LazyAttribute(lambda o: o.start_at + timedelta(minutes=o.event_type.duration_minutes))
    buffered_start = factory.LazyAttribute(lambda o: o.start_at - timedelta(minutes=o.event_type.buffer_before_minutes))
    buffered_end = factory.LazyAttribute(lambda o: o.end_at + timedelta(minutes=o.event_type.buffer_after_minutes))
    timezone = "Europe/London"
    name = factory.LazyAttribute(lambda o: o.lead.name)
    email = factory.LazyAttribute(lambda o: o.lead.email)


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leads.Lead"

    name = factory.Sequence(lambda n: f"Lead {n}")
    email = factory.Sequence(lambda n: f"booker{n}@example.com")
    email_normalized = factory.LazyAttribute(lambda o: o.email.lower())
    source = "website"
