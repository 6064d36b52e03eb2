"""Lead suggestions for a call no step of the match chain could place, scored by what identifies
a person: email domain, attendee names (rapidfuzz), a booking within an hour of the call."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from rapidfuzz import fuzz

from bookings.models import Booking
from calls.models import Call
from clientsflow.display import owner_time
from leads.models import Lead, Stage

# Shared mailbox providers: the same domain says nothing about the company.
FREEMAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "fastmail.com",
    }
)
MAX_CANDIDATES = 2000
SUGGESTION_LIMIT = 5


@dataclass(frozen=True)
class CallSignals:
    names: list[str]
    emails: list[str]
    domains: list[str]
    title: str


def _words(text: str) -> str:
    return " ".join(re.split(r"[^a-z0-9]+", text.lower())).strip()


def is_internal_email(email: str, organizer: str) -> bool:
    domain = email.rsplit("@", 1)[-1]
    return email == organizer or domain in settings.MEETING_INTERNAL_DOMAINS


def call_signals(call: Call) -> CallSignals:
    """Names, emails and company domains of the call's outside participants."""
    organizer = (call.organizer_email or "").lower()
    emails = [e for e in call.participants if not is_internal_email(e, organizer)]
    names: list[str] = []
    for attendee in call.attendees:
        email = (attendee.get("email") or "").lower()
        if email and is_internal_email(email, organizer):
            continue
        if email and email not in emails:
            emails.append(email)
        if attendee.get("name"):
            names.append(_words(attendee["name"]))
    for email in emails:
        local = _words(email.split("@", 1)[0])
        if " " in local:  # "dana.whitfield" reads as a name; "info" does not
            names.append(local)
    domains = []
    for email in emails:
        domain = email.rsplit("@", 1)[-1]
        if domain not in FREEMAIL_DOMAINS and domain not in domains:
            domains.append(domain)
    return CallSignals(
        names=list(dict.fromkeys(n for n in names if n)), emails=emails, domains=domains, title=call.title
    )


# Points per signal; a suggestion is shown from CALLS_SUGGESTION_MIN_SCORE (40). What matters is
# what identifies a person: their company's email domain, their name on the invite, a booking at
# that time. A company name fuzzily near a domain does not (it gave unrelated leads the same 76).
SAME_DOMAIN = 50
SAME_NAME = 60
CLOSE_NAME = 35
FIRST_NAME_ONLY = 15
BOOKED_NEAR = 40
NAME_IN_TITLE = 20
SAME_MAILBOX_NAME = 25
BOOKING_WINDOW = timedelta(hours=1)


def score_lead(
    lead: Mapping[str, Any],
    signals: CallSignals,
    *,
    booked_at: datetime | None = None,
    call_start: datetime | None = None,
) -> tuple[int, list[str]]:
    """0-100 and the reasons in plain words, for one candidate (`id`, `name`, `email_normalized`).

    `booked_at` is the start of the lead's booking closest to the call, when one is within an hour.
    """
    points = 0
    reasons: list[str] = []
    lead_email = lead.get("email_normalized") or ""
    lead_local, _, lead_domain = lead_email.partition("@")
    if lead_domain and lead_domain not in FREEMAIL_DOMAINS and lead_domain in signals.domains:
        points += SAME_DOMAIN
        reasons.append(f"An attendee writes from {lead_domain}, the lead's company domain.")
    name = _words(lead.get("name") or "")
    best_name = max(((int(fuzz.token_sort_ratio(name, c)), c) for c in signals.names), default=(0, ""))
    if name and best_name[0] >= 95 and " " in name:
        points += SAME_NAME
        reasons.append(f"Attendee “{best_name[1].title()}” has the lead's name.")
    elif name and best_name[0] >= 85:
        points += CLOSE_NAME
        reasons.append(f"Attendee “{best_name[1].title()}” is close to the lead's name “{lead['name']}”.")
    elif name and " " in name and any(c.split()[0] == name.split()[0] for c in signals.names if c):
        points += FIRST_NAME_ONLY
        reasons.append(f"An attendee shares the lead's first name ({name.split()[0].title()}).")
    elif name and " " in name and signals.title and fuzz.token_set_ratio(name, _words(signals.title)) >= 95:
        points += NAME_IN_TITLE
        reasons.append("The meeting title names the lead.")
    if lead_local and lead_domain not in signals.domains:
        same_mailbox = [e for e in signals.emails if fuzz.ratio(lead_local, e.split("@", 1)[0]) >= 90]
        if same_mailbox:
            points += SAME_MAILBOX_NAME
            reasons.append(f"Attendee {same_mailbox[0]} uses the same mailbox name as the lead ({lead_email}).")
    if booked_at is not None and call_start is not None:
        points += BOOKED_NEAR
        minutes = int(abs((call_start - booked_at).total_seconds()) // 60)
        when = "at the same time" if minutes == 0 else f"{minutes} minutes from the call's start"
        reasons.append(f"The lead booked a call for {owner_time(booked_at)}, {when}.")
    return min(100, points), reasons


def _bookings_near(call: Call) -> dict[int, datetime]:
    """Each lead's booking start closest to the call's start, within an hour (one query)."""
    if call.started_at is None:
        return {}
    closest: dict[int, datetime] = {}
    rows = Booking.objects.filter(
        start_at__gte=call.started_at - BOOKING_WINDOW, start_at__lte=call.started_at + BOOKING_WINDOW
    ).values_list("lead_id", "start_at")
    for lead_id, start_at in rows:
        held = closest.get(lead_id)
        if held is None or abs(start_at - call.started_at) < abs(held - call.started_at):
            closest[lead_id] = start_at
    return closest


def call_suggestions(*, call: Call, limit: int = SUGGESTION_LIMIT) -> list[dict]:
    """The best candidate leads, highest score first, from CALLS_SUGGESTION_MIN_SCORE."""
    signals = call_signals(call)
    booked = _bookings_near(call)
    if not (signals.names or signals.emails or signals.title or booked):
        return []
    open_leads = Lead.objects.filter(merged_into__isnull=True).exclude(stage__in=[Stage.LOST, Stage.PAID])
    fields = ("id", "name", "company", "email_normalized")
    candidates = {
        lead["id"]: lead for lead in open_leads.order_by("-updated_at", "-id").values(*fields)[:MAX_CANDIDATES]
    }
    missing = [lead_id for lead_id in booked if lead_id not in candidates]
    if missing:  # a lead booked at that time is always considered, however old
        candidates.update({lead["id"]: lead for lead in open_leads.filter(pk__in=missing).values(*fields)})
    scored: list[dict[str, Any]] = []
    for lead in candidates.values():
        score, reasons = score_lead(lead, signals, booked_at=booked.get(lead["id"]), call_start=call.started_at)
        if score >= settings.CALLS_SUGGESTION_MIN_SCORE:
            scored.append(
                {
                    "lead_id": lead["id"],
                    "name": lead["name"],
                    "company": lead["company"],
                    "email": lead["email_normalized"],
                    "score": score,
                    "reasons": reasons,
                }
            )
    scored.sort(key=lambda s: (-s["score"], -s["lead_id"]))
    return scored[:limit]
