"""Every kind of email a lead receives is signed with the settings (sender name, signature, host's
name): neither the word "owner" nor a staff username ever reaches a lead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from billing.services.proposals import proposal_email
from bookings.ics import invite_ics
from bookings.links import manage_url
from bookings.models import Booking
from bookings.services.invites import _event_body, _invite_email, send_booking_email
from bookings.services.reminders import booking_reminders_send
from clientsflow.site import site_settings_update
from outreach.clients.email import build_message
from outreach.demo import STEPS
from outreach.models import SequenceStep
from outreach.services.drafting import render_step
from tests.billing.conftest import make_proposal
from tests.bookings.factories import BookingFactory, EventTypeFactory, HostFactory

pytestmark = pytest.mark.django_db

USERNAME = "jsmith_admin"


@pytest.fixture
def signed_settings(settings):
    settings.DEFAULT_FROM_EMAIL = "ClientsFlow <hello@agency.example>"
    site_settings_update(
        agency_name="Northwind Studio",
        sender_name="Alex at Northwind",
        signature="Warm regards,\nAlex Morgan\nNorthwind Studio",
        host_name="Alex Morgan",
    )


def assert_clean(*texts: str) -> None:
    for text in texts:
        lowered = text.lower()
        assert "owner" not in lowered, text
        assert USERNAME not in lowered, text


def test_every_lead_email_is_signed_by_the_agency_never_the_owner(signed_settings):
    user = get_user_model().objects.create_user(USERNAME, email="js@agency.example", is_staff=True)
    # a host row as a fresh install makes it: named after the staff user
    host = HostFactory(user=user, name=USERNAME, email="alex@agency.example")
    booking = BookingFactory(
        event_type=EventTypeFactory(host=host),
        start_at=datetime.now(UTC) + timedelta(minutes=50),
        meet_url="https://meet.google.com/abc-defg-hij",
    )
    _invite_email(booking, manage_link=manage_url(booking))  # confirmation
    booking.status = Booking.Status.RESCHEDULED
    _invite_email(booking, manage_link=manage_url(booking))  # update
    Booking.objects.filter(pk=booking.pk).update(created_at=datetime.now(UTC) - timedelta(days=2))
    booking_reminders_send(now=datetime.now(UTC))  # the 1 h reminder is due
    booking.status = Booking.Status.CANCELLED
    _invite_email(booking, manage_link=manage_url(booking))  # cancellation
    send_booking_email(booking=booking, kind="other", subject="A note", lines=["Hello again."])
    kinds = len(mail.outbox)
    assert kinds == 5
    for message in mail.outbox:
        assert message.from_email == "Alex at Northwind <hello@agency.example>"
        assert message.body.rstrip().endswith("Warm regards,\nAlex Morgan\nNorthwind Studio")
        assert_clean(message.subject, message.body, message.from_email)
        for _, content, _ in message.attachments:
            assert_clean(content.decode() if isinstance(content, bytes) else content)
    assert "Intro call with Alex Morgan" in invite_ics(booking=booking, method="REQUEST").decode()
    assert _event_body(booking, manage_link=manage_url(booking))["summary"] == "Intro call with Alex Morgan"

    proposal = make_proposal()
    subject, body = proposal_email(proposal=proposal)
    assert body.endswith("Warm regards,\nAlex Morgan\nNorthwind Studio")
    assert_clean(subject, body)

    for _, _, subject_template, body_template in STEPS:
        step = SequenceStep(subject_template=subject_template, body_template=body_template)
        subject, body = render_step(step=step, lead=proposal.lead)
        assert body.endswith("Northwind Studio")
        message = build_message(
            subject=subject,
            body=body,
            to_email="ada@example.com",
            message_id="<m1@agency.example>",
            public_id="m1",
            unsubscribe_url="https://crm.agency.example/u/t/",
        )
        assert message.from_email == "Alex at Northwind <hello@agency.example>"
        assert_clean(message.subject, message.body)
