"""The demo's host (`seed_demo`, `make run`): a lead's invite never names a made-up
`owner@localhost` organizer, whatever account the owner logs in with."""

from __future__ import annotations

import random

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from bookings.demo import host_and_event_type, seed_bookings
from bookings.ics import invite_ics
from bookings.models import Booking, Host
from clientsflow.demo import DemoContext
from leads.demo import DEMO_OWNER_EMAIL
from leads.models import Stage
from tests.bookings.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _owner(email: str = ""):  # type: ignore[no-untyped-def]
    return get_user_model().objects.create_superuser("owner", email, "pw")


def _organizer(booking: Booking) -> str:
    ics = invite_ics(booking=booking, method="REQUEST").decode()
    return next(line for line in ics.replace("\r\n ", "").splitlines() if line.startswith("ORGANIZER"))


def test_an_owner_without_an_email_hosts_as_the_configured_sender(settings):
    settings.OWNER_EMAIL = "owner@localhost"
    settings.DEFAULT_FROM_EMAIL = "Northwind Studio <hello@northwind.example>"
    owner = _owner()
    leads = [LeadFactory(stage=Stage.BOOKED) for _ in range(2)]
    ctx = DemoContext(
        rng=random.Random(1), now=timezone.now(), owner=owner, leads_by_stage={"booked": [lead.pk for lead in leads]}
    )
    seed_bookings(ctx)
    booking = Booking.objects.select_related("host").first()
    assert booking is not None and booking.host.email == "hello@northwind.example"
    organizer = _organizer(booking)
    assert organizer.endswith(":mailto:hello@northwind.example") and "localhost" not in organizer


def test_the_owner_address_in_settings_comes_before_the_sender(settings):
    settings.OWNER_EMAIL = "maya@northwind.example"
    settings.DEFAULT_FROM_EMAIL = "Northwind Studio <hello@northwind.example>"
    assert host_and_event_type(_owner()).host.email == "maya@northwind.example"


def test_the_owner_account_email_comes_first(settings):
    settings.OWNER_EMAIL = "maya@northwind.example"
    assert host_and_event_type(_owner("owner@agency.example")).host.email == "owner@agency.example"


def test_with_only_local_addresses_configured_the_demo_owner_address_is_used(settings):
    settings.OWNER_EMAIL = "owner@localhost"
    settings.DEFAULT_FROM_EMAIL = "ClientsFlow <owner@localhost>"
    assert host_and_event_type(_owner()).host.email == DEMO_OWNER_EMAIL


def test_a_host_left_with_a_local_address_by_an_earlier_demo_is_corrected(settings):
    settings.OWNER_EMAIL = "owner@localhost"
    settings.DEFAULT_FROM_EMAIL = "Northwind Studio <hello@northwind.example>"
    owner = _owner()
    Host.objects.create(user=owner, name="owner", email="owner@localhost", timezone="UTC")
    assert host_and_event_type(owner).host.email == "hello@northwind.example"
    assert Host.objects.get(user=owner).email == "hello@northwind.example"
