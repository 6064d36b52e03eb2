"""A person's data as one ZIP: `person.json` with every row about them across the apps, and the
files we hold (the signed proposal as it was shown, call transcripts)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from billing.models import Payment, Signature
from bookings.models import Booking
from calls.models import Call
from clientsflow.models import AuditEvent, WebhookEvent
from leads.models import Lead
from privacy.services.finding import person_rows, rows_naming


def _serialize(rows: list[Any]) -> list[dict[str, Any]]:
    return [
        {"model": item["model"], "id": item["pk"], **item["fields"]} for item in serializers.serialize("python", rows)
    ]


def _outside_systems(related: dict[type, list[Any]]) -> list[dict[str, str]]:
    held: list[dict[str, str]] = []
    for call in related.get(Call, []):
        if call.fireflies_id:
            held.append({"system": "Fireflies", "kind": "transcript id", "id": call.fireflies_id})
        if call.notion_page_id:
            held.append({"system": "Notion", "kind": "page id", "id": call.notion_page_id})
    for booking in related.get(Booking, []):
        if booking.google_event_id:
            held.append({"system": "Google Calendar", "kind": "event id", "id": booking.google_event_id})
    for payment in related.get(Payment, []):
        held.append({"system": "Stripe", "kind": "checkout session id", "id": payment.checkout_session_id})
        if payment.payment_intent_id:
            held.append({"system": "Stripe", "kind": "payment intent id", "id": payment.payment_intent_id})
        if payment.customer_id:
            held.append({"system": "Stripe", "kind": "customer id", "id": payment.customer_id})
    return held


def person_export(*, lead: Lead) -> bytes:
    """Everything about the person behind `lead`, as the bytes of a ZIP file."""
    rows = person_rows(lead=lead)
    related_ids = {(type(row), row.pk) for row in rows.all_related()}
    audit = [row for row in rows_naming(AuditEvent, rows.needles) if (AuditEvent, row.pk) not in related_ids]
    audit += list(
        AuditEvent.objects.filter(object_type=Lead._meta.label_lower, object_id__in=[str(p.pk) for p in rows.leads])
    )
    webhooks = list(rows_naming(WebhookEvent, rows.needles)) if rows.needles else []

    attachments: list[str] = []
    document = {
        "exported_at": timezone.now(),
        "lead_public_id": str(lead.public_id),
        "contact": _serialize(rows.leads),
        "records": {
            model._meta.label: _serialize(sorted(found, key=lambda row: row.pk))
            for model, found in sorted(rows.related.items(), key=lambda item: item[0]._meta.label)
        },
        "audit_entries": _serialize(sorted({row.pk: row for row in audit}.values(), key=lambda row: row.pk)),
        "webhook_events": _serialize(webhooks),
        "outside_systems": _outside_systems(rows.related),
        "attachments": attachments,
    }

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for signature in rows.related.get(Signature, []):
            if signature.content:
                name = f"attachments/signed-proposal-{signature.proposal_id}.html"
                archive.writestr(name, signature.content)
                attachments.append(name)
        for call in rows.related.get(Call, []):
            if call.transcript_text:
                name = f"attachments/transcript-{call.pk}.txt"
                archive.writestr(name, call.transcript_text)
                attachments.append(name)
        archive.writestr("person.json", json.dumps(document, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False))
    return buffer.getvalue()
