"""The database refuses double bookings: 20 simultaneous submissions, one booking (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, connections, transaction

from bookings.models import NO_OVERLAP_CONSTRAINT, Booking
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
