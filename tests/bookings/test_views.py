"""The public booking page, the manage link and the owner's cancel endpoint, through HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db.models import F
from django.test import Client

from bookings.links import booking_from_token, manage_path
from bookings.models import Booking, Hold
from bookings.selectors import slots_for
from clientsflow.site import site_settings
from leads.models import Lead, Stage
from tests.leads.factories import staff_user

pytestmark = pytest.mark.django_db

LA = "America/Los_Angeles"


@pytest.fixture
def slots(event_type):
    return slots_for(event_type=event_type)


def post_data(slot_start, **overrides):
    data = {
        "start": slot_start.astimezone(ZoneInfo(LA)).isoformat(),
        "timezone": LA,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": "",
        "note": "",
        "website": "",
    }
    data.update(overrides)
    return data


def book_url(event_type, **query):
    params = "&".join(f"{k}={quote(str(v))}" for k, v in query.items())
    return f"/book/{event_type.slug}/" + (f"?{params}" if params else "")


def test_page_lists_slots_in_the_visitor_zone_and_keeps_it_in_links(client, event_type, slots):
    response = client.get(book_url(event_type, tz=LA))
    html = response.content.decode()
    assert response.status_code == 200
    first_local = slots[0].start.astimezone(ZoneInfo(LA))
    assert f">{first_local:%H:%M}</a>" in html
    assert "tz=America%2FLos_Angeles&amp;start=" in html
    assert 'id="tz" value="America/Los_Angeles"' in html
    assert "bookings/booking.js" in html  # detects the zone when the URL has none


def test_page_without_a_zone_uses_the_hosts_and_unknown_zones_fall_back(client, event_type):
    assert 'id="tz" value="America/New_York"' in client.get(book_url(event_type)).content.decode()
    unknown = client.get(book_url(event_type, tz="Nowhere/Land")).content.decode()
    assert 'id="tz" value="America/New_York"' in unknown
    assert "We do not know the time zone “Nowhere/Land”" in unknown
    assert client.get("/book/no-such-page/").status_code == 404


def test_choosing_a_slot_holds_it_and_shows_the_form(client, event_type, slots):
    start = slots[0].start.astimezone(ZoneInfo(LA))
    response = client.get(book_url(event_type, tz=LA, start=start.isoformat()))
    html = response.content.decode()
    assert response.status_code == 200 and 'name="email"' in html and 'name="website"' in html
    hold = Hold.objects.get()
    assert hold.start_at == slots[0].start and hold.token in html
    # Someone else no longer sees it.
    other = client.get(book_url(event_type, tz=LA)).content.decode()
    assert f"start={quote(start.isoformat())}" not in other.replace("&amp;", "&")


def test_booking_redirects_to_the_confirmation_and_the_lead_is_booked(
    client, event_type, slots, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(book_url(event_type, tz=LA), post_data(slots[0].start))
    assert response.status_code == 302
    booking = Booking.objects.get()
    # The link is signed with a timestamp, so it is compared by what it opens, not character by character.
    location = response["Location"]
    assert location.startswith("/book/manage/") and location.endswith("/?booked=1")
    assert booking_from_token(location.removeprefix("/book/manage/").removesuffix("/?booked=1")) == booking
    page = client.get(response["Location"]).content.decode()
    assert "You're booked!" in page and f"Intro call with {site_settings().host_name}" in page
    assert booking.timezone == LA and booking.start_at == slots[0].start
    assert Lead.objects.get().stage == Stage.BOOKED
    assert len(mail.outbox) == 1


# A night-time start on a day still ahead whenever the suite runs (a fixed date would pass).
_in_ten_days = datetime.now(UTC) + timedelta(days=10)


@pytest.mark.parametrize(
    ("overrides", "status", "message"),
    [
        ({"email": "ada@"}, 400, "That email address does not look right"),
        ({"email": ""}, 400, "Please give an email address"),
        ({"name": ""}, 400, "Please tell us your name"),
        ({"timezone": "Mars/Base"}, 400, "is not a time zone we know"),
        ({"start": "next tuesday"}, 400, "That time could not be read"),
        ({"start": "2026-12-01T10:00:00"}, 400, "has no UTC offset"),
        ({"start": "2020-01-06T10:00:00-05:00"}, 400, "already passed"),
        ({"start": f"{_in_ten_days:%Y-%m-%d}T03:00:00+00:00"}, 400, "outside the available hours"),
    ],
)
def test_form_errors_rerender_with_a_clear_message_and_write_nothing(
    client, event_type, slots, overrides, status, message
):
    response = client.post(book_url(event_type, tz=LA), post_data(slots[0].start, **overrides))
    assert response.status_code == status
    assert message in response.content.decode()
    assert not Booking.objects.exists() and not Lead.objects.exists()


@pytest.mark.parametrize("zone", ["America", "Not/AZone", "", "../etc", "/etc/passwd", "Europe/" + "x" * 300])
def test_an_unknown_time_zone_is_a_400_with_the_forms_message(client, event_type, slots, zone):
    # `America` is a folder of tzdata, not a zone: loading it raised IsADirectoryError (a 500).
    response = client.post(book_url(event_type, tz=LA), post_data(slots[0].start, timezone=zone))
    assert response.status_code == 400
    assert "Pick your time zone from the list." in response.content.decode()
    assert not Booking.objects.exists() and not Lead.objects.exists()


def test_a_taken_slot_says_so_and_shows_fresh_slots(client, event_type, slots):
    client.post(book_url(event_type, tz=LA), post_data(slots[0].start))
    response = client.post(book_url(event_type, tz=LA), post_data(slots[0].start, email="grace@example.com"))
    html = response.content.decode()
    assert response.status_code == 409
    assert "that time was just taken" in html
    assert f">{slots[1].start.astimezone(ZoneInfo(LA)):%H:%M}</a>" in html  # fresh slots
    assert Booking.objects.count() == 1


def test_honeypot_pretends_and_writes_nothing(client, event_type, slots):
    response = client.post(book_url(event_type, tz=LA), post_data(slots[0].start, website="http://spam.example"))
    assert response.status_code == 200 and "Thank you" in response.content.decode()
    assert not Booking.objects.exists() and not Lead.objects.exists()


def test_posts_are_rate_limited_per_ip(client, event_type, slots, settings):
    settings.BOOKING_RATE_LIMIT = "2/m"
    for _ in range(2):
        client.post(book_url(event_type, tz=LA), post_data(slots[0].start, email="bad"))
    response = client.post(book_url(event_type, tz=LA), post_data(slots[0].start))
    assert response.status_code == 429 and "Too many attempts" in response.content.decode()
    assert not Booking.objects.exists()


def test_csrf_is_required(event_type, slots):
    response = Client(enforce_csrf_checks=True).post(book_url(event_type, tz=LA), post_data(slots[0].start))
    assert response.status_code == 403


@pytest.fixture
def booked(client, event_type, slots):
    client.post(book_url(event_type, tz=LA), post_data(slots[0].start))
    return Booking.objects.get()


def test_manage_link_reschedules(client, booked, slots, django_capture_on_commit_callbacks):
    path = manage_path(booked)
    new_start = slots[3].start.astimezone(ZoneInfo(LA))
    # Its own day's times: the first slots can fall on two days in the visitor's zone.
    listing = client.get(f"{path}?reschedule=1&tz={quote(LA)}&day={new_start.date().isoformat()}").content.decode()
    assert f">{new_start:%H:%M}</a>" in listing
    confirm = client.get(f"{path}?tz={quote(LA)}&start={quote(new_start.isoformat())}").content.decode()
    assert "Yes, move my booking" in confirm
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(path, {"action": "reschedule", "start": new_start.isoformat(), "timezone": LA})
    assert response.status_code == 302 and response["Location"].endswith("?moved=1")
    booked.refresh_from_db()
    assert booked.start_at == slots[3].start and booked.status == Booking.Status.RESCHEDULED


def test_manage_link_refuses_an_overlap(client, booked, event_type, slots):
    client.post(book_url(event_type, tz=LA), post_data(slots[2].start, email="grace@example.com"))
    response = client.post(manage_path(booked), {"action": "reschedule", "start": slots[2].start.isoformat()})
    assert response.status_code == 409 and "that time was just taken" in response.content.decode()


def test_manage_link_cancels_with_a_reason(client, booked):
    path = manage_path(booked)
    response = client.post(path, {"action": "cancel", "reason": "Budget moved"})
    assert response.status_code == 302
    booked.refresh_from_db()
    assert booked.status == Booking.Status.CANCELLED and booked.cancel_reason == "Budget moved"
    assert "Your booking is cancelled" in client.get(response["Location"]).content.decode()


def test_forged_and_expired_links_are_refused(client, booked):
    assert client.get("/book/manage/not-a-real-token/").status_code == 404
    shift = timedelta(days=40)
    Booking.objects.filter(pk=booked.pk).update(
        start_at=F("start_at") - shift,
        end_at=F("end_at") - shift,
        buffered_start=F("buffered_start") - shift,
        buffered_end=F("buffered_end") - shift,
    )
    assert client.get(manage_path(booked)).status_code == 404


def test_staff_cancel_needs_staff_and_a_reason_and_answers_htmx(client, booked, django_capture_on_commit_callbacks):
    url = f"/book/staff/{booked.pk}/cancel/"
    assert client.get(url).status_code == 302  # to the login page
    staff = staff_user("owner", email="owner@agency.example")
    client.force_login(staff)
    confirm = client.get(url, headers={"HX-Request": "true"})
    assert "Yes, cancel the call" in confirm.content.decode()
    refused = client.post(url, {"reason": ""}, headers={"HX-Request": "true"})
    assert refused.status_code == 400 and "Please give a reason" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"reason": "Lead asked by phone"}, headers={"HX-Request": "true"})
    assert done.status_code == 200 and done["HX-Trigger"] == "booking-cancelled"
    assert "Call cancelled" in done.content.decode()
    booked.refresh_from_db()
    assert booked.status == Booking.Status.CANCELLED and booked.cancelled_by == "owner"
    assert booked.invite_status == Booking.InviteStatus.FALLBACK_SENT  # the ICS CANCEL went out
