"""Run inside the soak's environment (Django set up against the private database): the rows the
load needs, made through the services."""

from __future__ import annotations

import os
import sys
from typing import Any

from tools.soak.plan import (
    APPROVER,
    DISPATCH_EVERY_SECONDS,
    OUTBOUND_APPROVED,
    OUTBOUND_DRAFTS,
    OUTBOUND_REJECTED,
    OWNER,
    PROPOSALS,
    RACE_SLOTS,
    ROOT,
    SLUG,
)


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clientsflow.settings")
    import django

    django.setup()


def seed() -> dict[str, Any]:
    """The owner, a booking page open around the clock, and signed proposals to be paid."""
    from datetime import time as dtime
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from billing.services.documents import content_sha256, proposal_document_html
    from billing.services.proposals import LineData, proposal_create, proposal_mark_sent, proposal_sign
    from bookings.models import EventType, Host, WeeklyHours
    from bookings.selectors import slots_for
    from leads.services.intake import LeadData, lead_intake
    from leads.services.stages import lead_move_stage

    get_user_model().objects.create_superuser(OWNER[0], "owner@agency.example", OWNER[1])
    host = Host.objects.create(name="Soak Host", email="owner@agency.example", timezone="UTC")
    event_type = EventType.objects.create(
        host=host, slug=SLUG, title="Soak call", duration_minutes=30, slot_interval_minutes=30, min_notice_minutes=60
    )
    for weekday in range(7):
        WeeklyHours.objects.create(event_type=event_type, weekday=weekday, start_time=dtime(0), end_time=dtime(23, 30))
    slots = [slot.start.isoformat() for slot in slots_for(event_type=event_type)][:RACE_SLOTS]
    proposals = []
    for index in range(PROPOSALS):
        lead = lead_intake(
            data=LeadData.build(name=f"Paying Client {index}", email=f"client{index}@soak.example"), source="soak"
        ).lead
        for stage in ("booked", "call_done"):
            lead_move_stage(lead=lead, to_stage=stage, actor_label="soak")
        proposal = proposal_create(
            lead=lead,
            title=f"Soak proposal {index}",
            currency="USD",
            valid_until=timezone.now().date() + timedelta(days=30),
            lines=[LineData.build(description="Work", quantity="1", unit_price_minor=100000)],
        )
        proposal_mark_sent(proposal=proposal, via="soak")
        proposal.refresh_from_db()
        proposal_sign(
            proposal=proposal,
            signer_name=f"Paying Client {index}",
            signer_email=f"client{index}@soak.example",
            consent=True,
            shown_sha256=content_sha256(proposal_document_html(proposal=proposal)),
            ip_address="127.0.0.1",
            user_agent="soak",
        )
        proposal.refresh_from_db()
        proposals.append(
            {
                "id": proposal.pk,
                "lead_public_id": str(lead.public_id),
                "due_now_minor": proposal.due_now_minor,
                "currency": proposal.currency,
            }
        )
    return {"slots": slots, "proposals": proposals, "outbound": seed_outbound()}


def seed_outbound() -> dict[str, list[str]]:
    """Outbound drafts; some approved (through the service, by a staff user with the approve
    permission), some rejected, the rest left as drafts. Returns their Message-IDs by fate."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.utils import timezone
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from leads.services.intake import LeadData, lead_intake
    from outreach.models import OutboundMessage
    from outreach.services.review import outbound_approve, outbound_draft_create, outbound_reject

    approver = get_user_model().objects.create_user(APPROVER[0], "approver@agency.example", APPROVER[1], is_staff=True)
    approver.user_permissions.add(
        Permission.objects.get(codename="approve_outboundmessage", content_type__app_label="outreach")
    )
    approver = get_user_model().objects.get(pk=approver.pk)  # fresh permission cache
    fates: dict[str, list[str]] = {"approved": [], "draft": [], "rejected": []}
    plan = ["approved"] * OUTBOUND_APPROVED + ["draft"] * OUTBOUND_DRAFTS + ["rejected"] * OUTBOUND_REJECTED
    for index, fate in enumerate(plan):
        lead = lead_intake(
            data=LeadData.build(name=f"Mailed Lead {index}", email=f"mailed{index}@prospect.example"), source="soak"
        ).lead
        message = outbound_draft_create(
            lead=lead,
            subject=f"Following up ({index})",
            body=f"Hello Mailed Lead {index},\n\nA short note from the soak.",
            origin="soak",
            kind=OutboundMessage.Kind.ONE_OFF,
        )
        if fate == "approved":
            outbound_approve(message=message, actor=approver, expected_hash=message.content_hash())
        elif fate == "rejected":
            outbound_reject(message=message, actor=approver, reason="Not this one (soak).")
        fates[fate].append(message.message_id)
    # Beat's one dispatch entry ticks more often here, so even the 15-s CI run sends during the load.
    every, _ = IntervalSchedule.objects.get_or_create(every=DISPATCH_EVERY_SECONDS, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(task="clientsflow.tasks.dispatch").update(
        interval=every, last_run_at=None, date_changed=timezone.now()
    )
    return fates
