"""Normalizing contact details and finding the lead they belong to."""

from __future__ import annotations

from dataclasses import dataclass, field

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import F, Q, QuerySet
from rapidfuzz import fuzz

from clientsflow.errors import InvalidInput
from leads.models import Lead


def normalize_email(raw: str | None) -> str:
    """Lower-cased and trimmed; '' when absent. Raises InvalidInput when not an address."""
    value = (raw or "").strip().lower()
    if not value:
        return ""
    try:
        validate_email(value)
    except ValidationError:
        raise InvalidInput(f"{raw!r} is not a valid email address.") from None
    return value


def normalize_phone(raw: str | None, region: str | None = None) -> str:
    """E.164 (`+14155550134`); '' when absent. Raises InvalidInput when not a phone number."""
    value = (raw or "").strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, region or settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"{raw!r} is not a phone number.") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput(f"{raw!r} is not a possible phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def emails_conflict(a: str, b: str) -> bool:
    """Two different addresses are two people, whatever else (a phone) they share."""
    return bool(a) and bool(b) and a != b


def _active(lead: Lead | None) -> Lead | None:
    """Follow merges to the lead that absorbed this one."""
    seen = 0
    while lead is not None and lead.merged_into_id is not None and seen < 10:
        lead = lead.merged_into
        seen += 1
    return lead


# More leads than this on one phone is a switchboard, not a person: look no further.
MAX_PHONE_HOLDERS = 20


@dataclass
class Identity:
    """Whose details these are: `lead` (matched on `matched_on`), or nobody's yet.

    `shares_phone_with` lists the active leads that have this phone under another email: other
    people as far as we can tell, each a *possible duplicate* for a human to judge.
    """

    lead: Lead | None
    matched_on: str = ""
    shares_phone_with: list[Lead] = field(default_factory=list)


def lead_identify(*, email_normalized: str, phone_e164: str, for_update: bool = False) -> Identity:
    """The one rule every intake path follows to decide whose details these are.

    Exact normalized email first. Then E.164 phone, but only with a lead whose email does not
    conflict (one side has none, or they are equal): two emails are two people. A merged lead's
    details lead to its survivor. With `for_update`, the lead found is locked.
    """
    queryset = Lead.objects.select_for_update() if for_update else Lead.objects.all()
    active_first = (F("merged_into_id").asc(nulls_first=True), "id")
    if email_normalized:
        match = queryset.filter(email_normalized=email_normalized).order_by(*active_first).first()
        if match is not None:
            return Identity(lead=_locked(_active(match), match, queryset, for_update), matched_on="email")
    if not phone_e164:
        return Identity(lead=None)
    others: dict[int, Lead] = {}
    for match in queryset.filter(phone_e164=phone_e164).order_by(*active_first)[:MAX_PHONE_HOLDERS]:
        active = _active(match)
        if active is None or active.pk in others:
            continue
        if not emails_conflict(active.email_normalized, email_normalized):
            return Identity(lead=_locked(active, match, queryset, for_update), matched_on="phone")
        if active.phone_e164 == phone_e164:
            others[active.pk] = active
    return Identity(lead=None, shares_phone_with=list(others.values()))


def _locked(active: Lead | None, match: Lead, queryset: QuerySet[Lead], for_update: bool) -> Lead | None:
    if for_update and active is not None and active.pk != match.pk:
        return queryset.get(pk=active.pk)
    return active


def lead_find_duplicate(*, email_normalized: str, phone_e164: str, for_update: bool = False) -> tuple[Lead | None, str]:
    """The existing lead these details belong to and what matched (`email`, `phone` or '').

    See `lead_identify` for the rule.
    """
    identity = lead_identify(email_normalized=email_normalized, phone_e164=phone_e164, for_update=for_update)
    return identity.lead, identity.matched_on


# How alike two names (and two companies) must be, 0-100 (rapidfuzz's token_sort_ratio), before
# a new lead is offered as possibly the same person as an existing one.
LOOKALIKE_MIN_SCORE = 85
LOOKALIKE_CANDIDATES = 200


@dataclass
class Lookalike:
    lead: Lead
    reason: str  # "same email", "same phone", "similar name and company"
    hard: bool  # True: these details already belong to `lead`; creating another is refused


def lead_lookalikes(*, name: str, company: str, email_normalized: str, phone_e164: str) -> list[Lookalike]:
    """Existing active leads a person about to add a lead by hand should see first.

    The identity rule (`lead_identify`) decides hard duplicates (same email, or same phone without
    a conflicting email). Softer matches are offered, not enforced: the same phone under another
    email, or a very similar name at a very similar company (both given).
    """
    identity = lead_identify(email_normalized=email_normalized, phone_e164=phone_e164)
    if identity.lead is not None:
        return [Lookalike(identity.lead, f"same {identity.matched_on}", hard=True)]
    found = [Lookalike(lead, "same phone", hard=False) for lead in identity.shares_phone_with]
    name, company = " ".join(name.split()), " ".join(company.split())
    if name and company:
        words = [w for w in name.split() if len(w) >= 2]
        query = Q()
        for word in words:
            query |= Q(name__icontains=word)
        seen = {match.lead.pk for match in found}
        candidates = Lead.objects.filter(query, merged_into__isnull=True).exclude(company="")
        for lead in candidates.order_by("-created_at")[:LOOKALIKE_CANDIDATES]:
            if lead.pk in seen:
                continue
            name_score = fuzz.token_sort_ratio(name.lower(), lead.name.lower())
            company_score = fuzz.token_sort_ratio(company.lower(), lead.company.lower())
            if name_score >= LOOKALIKE_MIN_SCORE and company_score >= LOOKALIKE_MIN_SCORE:
                found.append(Lookalike(lead, "similar name and company", hard=False))
    return found
