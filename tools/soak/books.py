"""The books after the load: what the database says, what the sink received, and the invariants."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from tools.soak.load import Books
from tools.soak.stack import soak_dsn


def ledger() -> dict[str, Any]:
    """What the database says, for the checks (read inside the soak's environment)."""
    from django.db import connection
    from django.db.models import Count, Q

    from billing.models import Payment
    from bookings.models import Booking
    from calls.models import Call
    from clientsflow.models import AuditEvent, WebhookEvent
    from leads.models import Lead
    from outreach.models import OutboundMessage

    events = WebhookEvent.objects.filter(provider__in=["leads:website", "stripe", "fireflies"])
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM bookings_booking a JOIN bookings_booking b
              ON a.host_id = b.host_id AND a.id < b.id
             AND a.status IN ('confirmed', 'rescheduled') AND b.status IN ('confirmed', 'rescheduled')
             AND a.start_at < b.end_at AND b.start_at < a.end_at
            """
        )
        overlapping = cursor.fetchone()[0]
    sent = OutboundMessage.objects.filter(status=OutboundMessage.Status.SENT)
    return {
        "events": {
            provider: sorted(events.filter(provider=provider).values_list("event_id", flat=True))
            for provider in ("leads:website", "stripe", "fireflies")
        },
        "event_status": dict(Counter(events.values_list("status", flat=True))),
        "events_attempted_more_than_once": events.filter(attempts__gt=1).count(),
        "deliveries": sum(events.values_list("deliveries", flat=True)),
        "soak_leads": sorted(Lead.objects.filter(email__startswith="soak-").values_list("email", flat=True)),
        "calls": Call.objects.count(),
        "bookings_active": Booking.objects.filter(status__in=Booking.ACTIVE_STATUSES).count(),
        "bookings_overlapping": overlapping,
        "payments": Payment.objects.count(),
        "payments_per_session_max": max(
            Payment.objects.values("checkout_session_id").annotate(n=Count("id")).values_list("n", flat=True),
            default=0,
        ),
        "payments_paid": Payment.objects.filter(status=Payment.Status.PAID).count(),
        "messages_sent": sent.count(),
        "outbound_status": dict(OutboundMessage.objects.values_list("message_id", "status")),
        "messages_sent_unapproved": sent.filter(Q(approved_by__isnull=True) | Q(approved_hash="")).count(),
        "messages_sent_twice": AuditEvent.objects.filter(verb="outbound.sent")
        .values("object_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count(),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index] * 1000, 1)


def wait_for_drain(env: dict[str, str], timeout: float) -> int:
    import psycopg

    deadline = time.monotonic() + timeout
    left = -1
    with psycopg.connect(soak_dsn(env), autocommit=True, connect_timeout=5) as conn:
        while time.monotonic() < deadline:
            ((left,),) = conn.execute(
                "SELECT count(*) FROM clientsflow_webhookevent WHERE status <> 'processed'"
            ).fetchall()
            if left == 0:
                return 0
            time.sleep(0.5)
    return left


def count_sent(env: dict[str, str]) -> int:
    import psycopg

    with psycopg.connect(soak_dsn(env), autocommit=True, connect_timeout=5) as conn:
        ((sent,),) = conn.execute("SELECT count(*) FROM leads_outboundmessage WHERE status = 'sent'").fetchall()
        return sent


def wait_for_sends(env: dict[str, str], timeout: float) -> int:
    """Wait until no seeded approval is still waiting to go out (approved or sending)."""
    import psycopg

    deadline = time.monotonic() + timeout
    left = -1
    with psycopg.connect(soak_dsn(env), autocommit=True, connect_timeout=5) as conn:
        while time.monotonic() < deadline:
            ((left,),) = conn.execute(
                "SELECT count(*) FROM leads_outboundmessage WHERE status IN ('approved', 'sending')"
            ).fetchall()
            if left == 0:
                return 0
            time.sleep(0.5)
    return left


def mail_books(seeded: dict[str, Any], received: Counter, db: dict[str, Any]) -> dict[str, Any]:
    """What the SMTP sink received against what was approved, and what the database says."""
    approved = seeded["outbound"]["approved"]
    unapproved = seeded["outbound"]["draft"] + seeded["outbound"]["rejected"]
    status = db["outbound_status"]
    return {
        "approved": len(approved),
        "drafts": len(seeded["outbound"]["draft"]),
        "rejected": len(seeded["outbound"]["rejected"]),
        "received_once": sum(1 for mid in approved if received[mid] == 1),
        "received_twice_or_more": sum(1 for mid in approved if received[mid] > 1),
        "approved_not_received": sum(1 for mid in approved if received[mid] == 0),
        "unapproved_received": sum(received[mid] for mid in unapproved),
        "approved_marked_sent": sum(1 for mid in approved if status.get(mid) == "sent"),
        "unapproved_status_kept": sum(
            1 for fate in ("draft", "rejected") for mid in seeded["outbound"][fate] if status.get(mid) == fate
        ),
        "other_emails_received": sum(n for mid, n in received.items() if mid not in set(approved) | set(unapproved)),
    }


def check_books(books: Books, db: dict[str, Any], left: int, mail: dict[str, Any]) -> dict[str, bool]:
    stored_once = all(
        len(set(db["events"][provider])) == len(db["events"][provider]) for provider in db["events"]
    ) and all(
        set(db["events"][provider]) == books.accepted[provider] for provider in ("leads:website", "stripe", "fireflies")
    )
    nothing_unsigned = not any(set(db["events"]["leads:website"]) & ids for ids in books.unsigned.values())
    five_xx = sum(n for counter in books.statuses.values() for status, n in counter.items() if status >= 500)
    return {
        "webhooks_stored_once": stored_once,
        "bad_signatures_stored_nothing": nothing_unsigned,
        "webhooks_processed_once": left == 0
        and db["events_attempted_more_than_once"] == 0
        and set(db["event_status"]) <= {"processed"},
        "one_lead_per_accepted_lead_event": sorted(books.lead_emails) == db["soak_leads"],
        "one_call_per_fireflies_meeting": db["calls"] == len(books.accepted["fireflies"]),
        "one_payment_per_checkout_session": db["payments_per_session_max"] <= 1,
        "no_slot_double_booked": db["bookings_overlapping"] == 0 and max(books.booked_slots.values(), default=0) <= 1,
        "bookings_match_successes": db["bookings_active"] == sum(books.booked_slots.values()),
        "no_message_sent_twice_or_unapproved": db["messages_sent_twice"] == 0
        and db["messages_sent_unapproved"] == 0
        and mail["received_twice_or_more"] == 0
        and mail["unapproved_received"] == 0,
        "every_approved_message_received_once_and_marked_sent": mail["approved"] > 0
        and mail["received_once"] == mail["approved"]
        and mail["approved_marked_sent"] == mail["approved"]
        and db["messages_sent"] == mail["approved"],
        "drafts_and_rejected_left_alone": mail["unapproved_status_kept"] == mail["drafts"] + mail["rejected"],
        "board_rendered_for_owner": all(
            set(books.statuses[name]) == {200} for name in ("GET /board/", "GET /board/needs-you/")
        ),
        "no_5xx": five_xx == 0,
        "no_transport_errors": not books.transport_errors,
    }
