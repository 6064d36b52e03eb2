"""How values read on screen: phones in international format, times in the owner's zone with a
relative "3 hours ago", audit verbs and object types as plain words. Used by every app's admin
and, through `clientsflow.templatetags.display`, by templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django.apps import apps
from django.conf import settings
from django.utils import timezone

# What each audit verb means, as a person would say it. A verb missing here reads as its words
# ("lead.value_set" -> "Lead value set"), so a new verb is never shown as code.
AUDIT_VERB_LABELS: dict[str, str] = {
    "auth.locked_out": "Login locked after failed attempts",
    "booking.cancelled": "Call cancelled",
    "booking.created": "Call booked",
    "booking.email_failed": "Booking email failed",
    "booking.email_sent": "Booking email sent",
    "booking.enrollment_stop_failed": "Sequence not stopped after a booking",
    "booking.invite_blocked": "Calendar invite blocked",
    "booking.invite_fallback_sent": "Calendar invite sent by email (ICS)",
    "booking.invite_sent": "Calendar invite sent (Google Calendar)",
    "booking.rescheduled": "Call moved by the lead",
    "call.matched": "Call matched to a lead",
    "call.notion_failed": "Call not written to Notion",
    "classification.confirmed": "Reply label confirmed",
    "classification.created": "Reply classified",
    "classification.relabelled": "Reply label corrected",
    "classify.model_promoted": "New local model in use",
    "classify.prompt_promoted": "New classifier prompt in use",
    "demo.seeded": "Demo data created",
    "enrollment.created": "Lead enrolled in a sequence",
    "enrollment.paused": "Sequence paused",
    "enrollment.resumed": "Sequence resumed",
    "enrollment.stopped": "Sequence stopped",
    "integration.failing": "Integration failing",
    "integration.recovered": "Integration working again",
    "lead.created": "Lead created",
    "lead.duplicate_dismissed": "Possible duplicate dismissed",
    "lead.duplicate_intake": "Possible duplicate found",
    "lead.merge_undone": "Merge undone",
    "lead.merged": "Leads merged",
    "lead.note_added": "Note added",
    "lead.stage_changed": "Lead moved to another stage",
    "lead.task_added": "Task added",
    "lead.task_done": "Task ticked done",
    "lead.task_reopened": "Task reopened",
    "lead.value_set": "Deal value changed",
    "leads.marked_seen": "New leads marked as seen",
    "mail.blocked": "Email blocked",
    "notification.dismissed": "Owner notification dismissed",
    "notification.resent": "Owner notification sent again",
    "notification.unknown": "Owner notification outcome unknown",
    "outbound.approved": "Email approved",
    "outbound.blocked": "Email blocked",
    "outbound.blocked_suppressed": "Email blocked: the person unsubscribed",
    "outbound.drafted": "Email drafted",
    "outbound.edited": "Email edited",
    "outbound.failed": "Email failed to send",
    "outbound.rejected": "Email rejected",
    "outbound.retry_requested": "Email send retried",
    "outbound.sent": "Email sent",
    "outbound.unknown": "Email outcome unknown",
    "outbound.unknown_resolved": "Unknown email outcome resolved",
    "payment.checkout_created": "Payment link created",
    "payment.expired": "Payment link expired",
    "payment.failed": "Payment failed",
    "payment.paid": "Payment received",
    "payment.pending": "Payment pending",
    "payment.reconciled": "Payment checked with Stripe",
    "payment.refunded": "Payment refunded",
    "payment.review": "Payment needs review",
    "payment.review_resolved": "Payment review resolved",
    "person.erased": "Person's data erased",
    "proposal.created": "Proposal created",
    "proposal.declined": "Proposal declined",
    "proposal.expired": "Proposal expired",
    "proposal.link_revoked": "Proposal link revoked",
    "proposal.revised": "New proposal version",
    "proposal.send_requested": "Proposal waiting for approval to send",
    "proposal.send_withdrawn": "Proposal send withdrawn",
    "proposal.sent": "Proposal sent",
    "proposal.signed": "Proposal signed",
    "proposal.viewed": "Proposal opened by the lead",
    "reply.applied": "Reply applied",
    "reply.held": "Reply held: sender not verified",
    "reply.matched": "Reply matched to a lead",
    "settings.changed": "Settings changed",
    "suppression.added": "Address unsubscribed",
}

# Object types written before the model moved app keep reading as the model they name.
_OLD_OBJECT_TYPES = {"leads.outboundmessage": "Outbound message"}


def audit_verb_label(verb: str) -> str:
    if verb in AUDIT_VERB_LABELS:
        return AUDIT_VERB_LABELS[verb]
    words = verb.replace(".", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else "—"


def object_type_label(object_type: str) -> str:
    """`"outreach.outboundmessage"` -> "Outbound message" (the model's own verbose name)."""
    if not object_type:
        return "—"
    if object_type in _OLD_OBJECT_TYPES:
        return _OLD_OBJECT_TYPES[object_type]
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return object_type
    name = str(model._meta.verbose_name)
    return name[:1].upper() + name[1:]


def phone_international(value: str, region: str | None = None) -> str:
    """`"+442071838750"` -> "+44 20 7183 8750"; what cannot be parsed is shown as it was typed."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, region or settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_possible_number(number):
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def owner_zone() -> ZoneInfo:
    return ZoneInfo(settings.OWNER_TIMEZONE)


def owner_time(value: datetime | None) -> str:
    """`30 Nov 2026, 14:05 EST` in the owner's zone."""
    if value is None:
        return "—"
    local = value.astimezone(owner_zone())
    return f"{local.day} {local:%b %Y, %H:%M %Z}"


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def relative_time(value: datetime | None, now: datetime | None = None) -> str:
    """ "just now", "12 minutes ago", "3 hours ago", "yesterday", "4 days ago", "in 2 hours"."""
    if value is None:
        return "—"
    now = now or timezone.now()
    seconds = (now - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        text = _plural(int(seconds // 60), "minute")
    elif seconds < 24 * 3600:
        text = _plural(int(seconds // 3600), "hour")
    else:
        zone = owner_zone()
        days = abs((now.astimezone(zone).date() - value.astimezone(zone).date()).days)
        if days == 1:
            return "tomorrow" if future else "yesterday"
        if days < 60:
            text = _plural(days, "day")
        elif days < 730:
            text = _plural(days // 30, "month")
        else:
            text = _plural(days // 365, "year")
    return f"in {text}" if future else f"{text} ago"


def owner_time_relative(value: datetime | None, now: datetime | None = None) -> str:
    """`30 Nov 2026, 14:05 EST (3 hours ago)`."""
    if value is None:
        return "—"
    return f"{owner_time(value)} ({relative_time(value, now)})"


def owner_time_column(field: str, description: str) -> Any:
    """An admin column (or read-only field) showing a model's datetime `field` in the owner's zone
    with the time since: `sent_at_owner = owner_time_column("sent_at", "Sent")`."""

    def show(admin_self: Any, obj: Any) -> str:
        return owner_time_relative(getattr(obj, field))

    show.short_description = description  # type: ignore[attr-defined]
    show.admin_order_field = field  # type: ignore[attr-defined]
    show.__name__ = f"{field}_owner"
    return show


def first_line(text: str, limit: int = 90) -> str:
    """The first line of text that is not empty or a greeting's comma, cut at `limit` characters."""
    for line in (text or "").splitlines():
        line = line.strip()
        if line and not (line.endswith(",") and len(line) < 40):
            return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
    return ""
