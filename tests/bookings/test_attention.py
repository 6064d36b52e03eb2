"""Board badges, card actions, "needs you", the demo seeder and the admin list."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from board.selectors import needs_you
from bookings.demo import seed_bookings
from bookings.models import Booking, EventType
from bookings.selectors import blocked_invites_count, booking_badges, booking_card_actions
from clientsflow.demo import DemoContext
from leads.models import Lead, Stage
from tests.bookings.factories import BookingFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_badges_show_the_call_and_a_blocked_invite_in_danger_tone_with_one_query():
    soon = timezone.now() + timedelta(days=2)
    ok = BookingFactory(start_at=soon, invite_status=Booking.InviteStatus.SENT)
    blocked = BookingFactory(
        start_at=soon + timedelta(hours=2),
        invite_status=Booking.InviteStatus.BLOCKED,
        invite_error="unauthorized_client",
    )
    plain = LeadFactory()
    with CaptureQueriesContext(connection) as queries:
        badges = booking_badges([ok.lead_id, blocked.lead_id, plain.pk])
    assert len(queries) == 1
    assert [b.label for b in badges[ok.lead_id]][1] == "Invite sent"
    danger = badges[blocked.lead_id][1]
    assert danger.label == "Invite blocked" and danger.tone == "danger" and "unauthorized_client" in danger.title
    assert plain.pk not in badges
    assert blocked_invites_count() == 1
    item = next(i for i in needs_you() if i.key == "booking_invites_blocked")
    assert item.count == 1 and "invite_status__exact=blocked" in item.url
    actions = booking_card_actions([ok.lead_id, plain.pk])
    assert actions[ok.lead_id][0].label == "Cancel call"
    assert actions[ok.lead_id][0].url == f"/book/staff/{ok.pk}/cancel/?next=/board/"


def test_demo_seeder_makes_the_intro_call_and_bookings_in_every_state():
    owner = get_user_model().objects.create_superuser("owner", "owner@agency.example", "pw")
    leads = [LeadFactory(stage=Stage.BOOKED) for _ in range(8)]
    ctx = DemoContext(
        rng=random.Random(1), now=timezone.now(), owner=owner, leads_by_stage={"booked": [lead.pk for lead in leads]}
    )
    assert seed_bookings(ctx) == {"event_types": 1, "bookings": 8}
    event_type = EventType.objects.get(slug="intro-call")
    assert event_type.duration_minutes == 30 and event_type.host.user == owner
    assert sorted(event_type.weekly_hours.values_list("weekday", flat=True)) == [0, 1, 2, 3, 4]
    assert set(Booking.objects.values_list("status", flat=True)) == set(Booking.Status.values)
    assert set(Booking.objects.values_list("invite_status", flat=True)) == set(Booking.InviteStatus.values)
    assert Lead.objects.filter(stage=Stage.BOOKED).count() == 8


def test_admin_lists_and_filters_bookings(client):
    BookingFactory(start_at=timezone.now() + timedelta(days=1), invite_status=Booking.InviteStatus.BLOCKED)
    client.force_login(get_user_model().objects.create_superuser("admin", "a@example.com", "pw"))
    page = client.get("/admin/bookings/booking/?invite_status__exact=blocked&upcoming=active")
    assert page.status_code == 200 and "Blocked" in page.content.decode()
    assert client.get("/admin/bookings/eventtype/add/").status_code == 200
