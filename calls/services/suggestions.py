"""Fuzzy lead suggestions for a call no step of the match chain could place (rapidfuzz)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rapidfuzz import fuzz

from calls.models import Call
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


def _internal(email: str, organizer: str) -> bool:
    domain = email.rsplit("@", 1)[-1]
    return email == organizer or domain in settings.MEETING_INTERNAL_DOMAINS


def call_signals(call: Call) -> CallSignals:
    """Names, emails and company domains of the call's outside participants."""
    organizer = (call.organizer_email or "").lower()
    emails = [e for e in call.participants if not _internal(e, organizer)]
    names: list[str] = []
    for attendee in call.attendees:
        email = (attendee.get("email") or "").lower()
        if email and _internal(email, organizer):
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


def score_lead(lead: Mapping[str, Any], signals: CallSignals) -> tuple[int, list[str]]:
    """0-100 and the reasons, for one candidate (`id`, `name`, `company`, `email_normalized`)."""
    reasons: list[tuple[int, str]] = []
    name = _words(lead.get("name") or "")
    if name:
        for candidate in signals.names:
            score = int(fuzz.token_sort_ratio(name, candidate))
            reasons.append((score, f"name “{lead['name']}” ~ “{candidate}” ({score})"))
        if signals.title:
            score = int(fuzz.token_set_ratio(name, _words(signals.title)))
            if score >= 90:
                reasons.append((score - 10, f"name in the meeting title ({score})"))
    company = _words(lead.get("company") or "")
    if company:
        for domain in signals.domains:
            label = _words(domain.rsplit(".", 1)[0])
            score = int(fuzz.token_set_ratio(company, label))
            reasons.append((score, f"company “{lead['company']}” ~ domain {domain} ({score})"))
        if signals.title:
            score = int(fuzz.token_set_ratio(company, _words(signals.title)))
            if score >= 90:
                reasons.append((score - 5, f"company in the meeting title ({score})"))
    lead_email = lead.get("email_normalized") or ""
    if lead_email and "@" in lead_email:
        lead_local, lead_domain = lead_email.split("@", 1)
        if lead_domain in signals.domains:
            reasons.append((90, f"same email domain {lead_domain}"))
        for email in signals.emails:
            score = int(fuzz.ratio(lead_local, email.split("@", 1)[0]))
            if score >= 70:
                reasons.append((score - 10, f"email {email} ~ {lead_email} ({score})"))
    if not reasons:
        return 0, []
    reasons.sort(key=lambda r: r[0], reverse=True)
    best = reasons[0][0]
    strong = [r for r in reasons if r[0] >= 80]
    total = min(100, best + 5 * (len(strong) - 1)) if strong else best
    return max(0, total), [text for score, text in reasons if score >= 50][:3]


def call_suggestions(*, call: Call, limit: int = SUGGESTION_LIMIT) -> list[dict]:
    """The best candidate leads, highest score first, above CALLS_SUGGESTION_MIN_SCORE."""
    signals = call_signals(call)
    if not (signals.names or signals.emails or signals.title):
        return []
    candidates = (
        Lead.objects.filter(merged_into__isnull=True)
        .exclude(stage__in=[Stage.LOST, Stage.PAID])
        .order_by("-updated_at", "-id")
        .values("id", "name", "company", "email_normalized")[:MAX_CANDIDATES]
    )
    scored: list[dict[str, Any]] = []
    for lead in candidates:
        score, reasons = score_lead(lead, signals)
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
