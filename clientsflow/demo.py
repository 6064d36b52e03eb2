"""What every app's demo seeder receives: `seed_demo` (the board app) creates the leads, then
calls each app's seeder in a fixed order; each adds its own objects (sequences, replies,
bookings, calls, proposals) for the demo leads, reproducibly from `ctx.rng`:

    def seed_bookings(ctx: DemoContext) -> dict[str, int]:
        for lead_id in ctx.leads_by_stage["booked"]: ...
        return {"bookings": n}
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from clientsflow.models import Notification
from clientsflow.site import site_settings_update


@dataclass
class DemoContext:
    rng: random.Random
    now: datetime
    owner: Any  # the owner user (staff, superuser)
    leads_by_stage: dict[str, list[int]] = field(default_factory=dict)
    log: Callable[[str], None] = print


DemoSeeder = Callable[[DemoContext], dict[str, int]]


def seed_site_settings(ctx: DemoContext) -> dict[str, int]:
    """The agency's name, sender and signature, and a few owner notifications as they would have
    arrived (a booking, a positive reply, a signature, a payment; one Slack post that failed)."""
    owner_name, agency = settings.OWNER_NAME, settings.AGENCY_NAME
    first = owner_name.split()[0] if owner_name.strip() else agency
    site_settings_update(
        agency_name=agency,
        owner_name=owner_name,
        sender_name=f"{first} at {agency}",
        signature=f"Best,\n{owner_name}\n{agency}",
        host_name=owner_name,
        booking_headline=f"Book a 30-minute intro call with {owner_name}",
    )
    samples = [
        ("booking_created", "New call booked: Jane Doe, Thu 10:00", "Jane Doe booked Intro call.", "sent", ""),
        (
            "reply_positive",
            "Positive reply: Sam Lee",
            "Sam Lee replied: \u201cSounds good, when works?\u201d",
            "sent",
            "",
        ),
        (
            "proposal_signed",
            "Proposal signed: Priya Shah",
            "Priya Shah signed Website rebuild ($12,000.00).",
            "sent",
            "",
        ),
        ("payment_received", "Payment received: $3,600.00 from Priya Shah", "Priya Shah paid the deposit.", "sent", ""),
        (
            "payment_failed",
            "Payment failed: $2,400.00 from Omar Haddad",
            "The card was declined.",
            "failed",
            "slack: failed: Slack is not configured; set SLACK_WEBHOOK_URL or notify by email only.",
        ),
    ]
    rows = []
    for minutes_ago, (kind, subject, text, status, error) in zip((300, 240, 150, 90, 30), samples, strict=True):
        at = ctx.now - timedelta(minutes=minutes_ago)
        rows.append(
            Notification(
                kind=kind,
                key=f"demo:{kind}:{ctx.now:%Y%m%d%H%M}",
                subject=subject,
                text=text,
                link="/board/",
                via="email",
                status=status,
                outcome={"email": "sent"} if status == "sent" else {"slack": error.removeprefix("slack: ")},
                error=error,
                sent_at=at if status == "sent" else None,
            )
        )
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return {"settings": 1, "notifications": len(created)}
