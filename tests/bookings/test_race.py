"""The database refuses double bookings and double holds: twenty visitors at once (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test import Client
from django.utils import timezone

from bookings.models import HOLD_NO_OVERLAP_CONSTRAINT, NO_OVERLAP_CONSTRAINT, Booking, Hold
from bookings.selectors import slots_for
from bookings.services import SlotTaken, booking_create
from leads.models import Lead
from tests.bookings.factories import BookingFactory, EventTypeFactory

START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_bookings_of_one_slot_make_exactly_one():
    event_type = EventTypeFactory(slug="race")
    threads = 20
    barrier = threading.Barrier(threads)
    outcomes: list[str] = []
    lock = threading.Lock()

    def submit(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            booking_create(
                event_type=event_type,
                start=START,
                timezone_name="America/Chicago",
                name=f"Racer {n}",
                email=f"racer{n}@example.com",
                now=NOW,
            )
            result = "booked"
        except SlotTaken as exc:
            result = str(exc)
        except Exception as exc:  # anything else is a failure of the guarantee
            result = f"error: {type(exc).__name__}: {exc}"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    workers = [threading.Thread(target=submit, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert outcomes.count("booked") == 1, outcomes
    assert all("that time was just taken" in o for o in outcomes if o != "booked"), outcomes
    assert Booking.objects.filter(start_at=START).count() == 1
    # The losers wrote nothing: only the winner's lead exists.
    assert Lead.objects.count() == 1


@pytest.mark.services
@pytest.mark.django_db
def test_exclusion_constraint_refuses_an_overlapping_row_written_directly():
    assert connection.vendor == "postgresql"
    first = BookingFactory(start_at=START)
    with pytest.raises(IntegrityError, match=NO_OVERLAP_CONSTRAINT), transaction.atomic():
        BookingFactory(event_type=first.event_type, start_at=START + timedelta(minutes=10))
    # Touching ranges are fine ([) bounds), cancelled bookings do not count.
    BookingFactory(event_type=first.event_type, start_at=START + timedelta(minutes=30))
    BookingFactory(event_type=first.event_type, start_at=START - timedelta(minutes=30), status="cancelled")
    BookingFactory(event_type=first.event_type, start_at=START - timedelta(minutes=20), status="cancelled")
    assert Booking.objects.filter(event_type=first.event_type).count() == 4


# --- the public page, twenty visitors at once -------------------------------------------------


def _visitors_at_once(count: int, request) -> list[tuple[int, str]]:
    """Run `request(client, n)` in `count` threads released together; each visitor has its own
    session and address. Returns (status, body) per visitor; an exception is a 599 with its text."""
    barrier = threading.Barrier(count)
    outcomes: list[tuple[int, str]] = []
    lock = threading.Lock()

    def visit(n: int) -> None:
        client = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
        try:
            barrier.wait(timeout=10)
            response = request(client, n)
            outcome = (response.status_code, response.content.decode())
        except Exception as exc:
            outcome = (599, f"{type(exc).__name__}: {exc}")
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    workers = [threading.Thread(target=visit, args=(n,)) for n in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert len(outcomes) == count
    return outcomes


def _first_slot(event_type):
    return slots_for(event_type=event_type)[0].start.astimezone(ZoneInfo("America/Chicago"))


def _form(start: datetime, n: int, **extra: str) -> dict[str, str]:
    return {
        "start": start.isoformat(),
        "timezone": "America/Chicago",
        "name": f"Visitor {n}",
        "email": f"visitor{n}@example.com",
        **extra,
    }


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_twenty_visitors_opening_one_slot_get_one_hold_and_nineteen_clear_refusals(settings):
    settings.BOOKING_RATE_LIMIT = "1000/m"
    event_type = EventTypeFactory(slug="hold-race")
    start = _first_slot(event_type)
    url = f"/book/{event_type.slug}/?{urlencode({'tz': 'America/Chicago', 'start': start.isoformat()})}"

    outcomes = _visitors_at_once(20, lambda client, n: client.get(url))

    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [200] + [409] * 19, statuses
    assert all("Someone else is booking that time" in body for status, body in outcomes if status == 409)
    assert Hold.objects.count() == 1

    # The winner walks away: once the hold lapses the slot is anyone's again.
    Hold.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    latecomer = Client(REMOTE_ADDR="203.0.113.50")
    assert latecomer.get(url).status_code == 200
    token = Hold.objects.get().token
    booked = latecomer.post(f"/book/{event_type.slug}/", _form(start, 99, hold=token))
    assert booked.status_code == 302
    assert Booking.objects.count() == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_twenty_visitors_confirming_one_slot_make_one_booking_and_nineteen_clear_refusals(settings):
    settings.BOOKING_RATE_LIMIT = "1000/m"
    event_type = EventTypeFactory(slug="post-race")
    start = _first_slot(event_type)

    outcomes = _visitors_at_once(20, lambda client, n: client.post(f"/book/{event_type.slug}/", _form(start, n)))

    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [302] + [409] * 19, statuses
    assert all("that time was just taken" in body for status, body in outcomes if status == 409)
    assert Booking.objects.count() == 1 and Lead.objects.count() == 1
    assert not Hold.objects.exists()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_holder_books_while_nineteen_others_confirm_the_same_slot(settings):
    settings.BOOKING_RATE_LIMIT = "1000/m"
    event_type = EventTypeFactory(slug="holder-race")
    start = _first_slot(event_type)
    holder = Client(REMOTE_ADDR="203.0.113.9")
    assert holder.get(f"/book/{event_type.slug}/?{urlencode({'start': start.isoformat()})}").status_code == 200
    token = Hold.objects.get().token

    def confirm(client: Client, n: int):
        if n == 0:
            return holder.post(f"/book/{event_type.slug}/", _form(start, n, hold=token))
        return client.post(f"/book/{event_type.slug}/", _form(start, n))

    outcomes = _visitors_at_once(20, confirm)

    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [302] + [409] * 19, statuses
    assert Booking.objects.get().email == "visitor0@example.com"


@pytest.mark.services
@pytest.mark.django_db
def test_hold_exclusion_constraint_refuses_an_overlapping_hold_written_directly():
    event_type = EventTypeFactory(slug="hold-constraint")

    def hold(start: datetime, token: str) -> Hold:
        end = start + timedelta(minutes=30)
        return Hold.objects.create(
            host=event_type.host,
            event_type=event_type,
            token=token,
            start_at=start,
            end_at=end,
            buffered_start=start,
            buffered_end=end,
            expires_at=START,
        )

    hold(START, "a")
    with pytest.raises(IntegrityError, match=HOLD_NO_OVERLAP_CONSTRAINT), transaction.atomic():
        hold(START + timedelta(minutes=10), "b")
    hold(START + timedelta(minutes=30), "c")  # touching is fine
    assert Hold.objects.count() == 2
