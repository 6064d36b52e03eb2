"""Normalizing contact details and finding the lead they belong to."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

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


def _active(lead: Lead | None) -> Lead | None:
    """Follow merges to the lead that absorbed this one."""
    seen = 0
    while lead is not None and lead.merged_into_id is not None and seen < 10:
        lead = lead.merged_into
        seen += 1
    return lead


def lead_find_duplicate(*, email_normalized: str, phone_e164: str, for_update: bool = False) -> tuple[Lead | None, str]:
    """The existing lead these details belong to and what matched (`email`, `phone` or '').

    Exact normalized email first, then E.164 phone. A merged lead's details lead to its survivor.
    """
    queryset = Lead.objects.select_for_update() if for_update else Lead.objects.all()
    for field, value in (("email_normalized", email_normalized), ("phone_e164", phone_e164)):
        if not value:
            continue
        match = queryset.filter(**{field: value}).order_by("merged_into_id", "id").first()
        if match is not None:
            active = _active(match)
            if for_update and active is not None and active.pk != match.pk:
                active = queryset.get(pk=active.pk)
            return active, field.split("_")[0]
    return None, ""
