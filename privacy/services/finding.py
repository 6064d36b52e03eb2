"""Everything we hold about one person, found from the model metadata and by what names them.

Rows that point at the lead (bookings, calls, replies, proposals...) are found by following
`Lead._meta.related_objects`, and from those rows onwards (a proposal's signature and payments,
a reply's classification), so a new app's model is found without being listed here. Text that
merely mentions the person (webhook bodies, audit details, admin history, another lead's notes)
has no foreign key: it is found by searching every text column for the person's email, phone
(in each written form) and name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import phonenumbers
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Q

from bookings.models import Host
from leads.models import Lead

# Apps whose rows are ours to read and rewrite (Django's own and libraries' are not followed,
# except the admin's history, which names objects and is searched as text).
PROJECT_APPS = ("clientsflow", "leads", "outreach", "classify", "bookings", "calls", "billing")
TEXT_SEARCHED_APPS = (*PROJECT_APPS, "admin")
# A shorter string would match unrelated text ("Al" inside "Alabama").
MIN_NEEDLE_LENGTH = 4
# Fields that hold the person's own name, address or phone in the rows about them (a reply's
# `to_email` and a call's `organizer_email` are ours, so they are not here).
IDENTITY_FIELD_RE = re.compile(r"^(signer_|from_)?(name|email|phone)(_normalized|_e164)?$")
TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


@dataclass
class PersonRows:
    """The person's leads (the lead and those merged into it), the rows about them, and the
    strings that name them."""

    leads: list[Lead]
    # Rows of any model, read by field name (`call.transcript_text`): typed loosely on purpose.
    related: dict[type[models.Model], list[Any]] = field(default_factory=dict)
    needles: list[str] = field(default_factory=list)

    def all_related(self) -> Iterator[models.Model]:
        for rows in self.related.values():
            yield from rows


def _is_ours(model: type[models.Model]) -> bool:
    return model._meta.app_label in PROJECT_APPS and not model._meta.proxy


def _follow(rows: Sequence[models.Model], found: dict[type[models.Model], dict[int, models.Model]]) -> None:
    """Add every row of our apps that points at one of `rows`, then the rows pointing at those."""
    if not rows:
        return
    model = type(rows[0])
    pks = [row.pk for row in rows]
    for relation in model._meta.related_objects:
        related_model = cast(type[models.Model], relation.related_model)  # a concrete model, never "self"
        if not _is_ours(related_model) or relation.many_to_many:
            continue
        if related_model is Lead:
            continue  # other leads are other people; merged ones are gathered as the person's leads
        new_rows = [
            row
            for row in related_model._default_manager.filter(**{f"{relation.field.name}__in": pks})
            if row.pk not in found.setdefault(related_model, {})
        ]
        for row in new_rows:
            found[related_model][row.pk] = row
        _follow(new_rows, found)


def phone_forms(phone: str) -> set[str]:
    """The ways a stored phone number may be written: as typed, E.164, national, international,
    and digits only."""
    forms = {phone.strip()} if phone.strip() else set()
    try:
        parsed = phonenumbers.parse(phone, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is not None:
        for fmt in (
            phonenumbers.PhoneNumberFormat.E164,
            phonenumbers.PhoneNumberFormat.NATIONAL,
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
        ):
            forms.add(phonenumbers.format_number(parsed, fmt))
        forms.add(str(parsed.national_number))
    forms |= {re.sub(r"\D", "", form) for form in list(forms)}
    return {form for form in forms if len(form) >= MIN_NEEDLE_LENGTH}


def _identity_values(row: models.Model) -> Iterator[tuple[str, str]]:
    for f in row._meta.concrete_fields:
        if isinstance(f, models.CharField) and IDENTITY_FIELD_RE.search(f.name):
            value = getattr(row, f.attname) or ""
            if value:
                yield f.name, value


def person_rows(*, lead: Lead) -> PersonRows:
    """The lead, the leads merged into it, every row about them, and the strings naming them."""
    leads = [lead, *Lead.objects.filter(merged_into=lead).order_by("pk")]
    found: dict[type[models.Model], dict[int, models.Model]] = {}
    _follow(leads, found)
    related = {model: list(rows.values()) for model, rows in found.items() if rows}

    needles: set[str] = set()
    identity_rows: list[models.Model] = [*leads]
    for model, rows in related.items():
        # Bookings and signatures carry the name and address the person typed there.
        if model._meta.app_label in PROJECT_APPS:
            identity_rows.extend(rows)
    for row in identity_rows:
        for name, value in _identity_values(row):
            if "phone" in name:
                needles |= phone_forms(value)
            elif "email" in name:
                needles |= {value.strip(), value.strip().lower()}
            else:
                needles.add(" ".join(value.split()))
    # Rows about the lead also name staff (a booking's host, a reply's `to_email`): those are
    # not the person's and must not be scrubbed from the rest of the database.
    staff = {value for value in needles if _is_staff_identity(value)}
    needles -= staff
    return PersonRows(
        leads=leads,
        related=related,
        needles=sorted((n for n in needles if len(n) >= MIN_NEEDLE_LENGTH), key=len, reverse=True),
    )


def _is_staff_identity(value: str) -> bool:
    users = get_user_model()._default_manager
    return (
        users.filter(Q(email__iexact=value) | Q(username__iexact=value)).exists()
        or Host.objects.filter(Q(email__iexact=value) | Q(name__iexact=value)).exists()
    )


def text_fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if isinstance(f, TEXT_FIELDS) and not f.primary_key]


def searched_models() -> Iterator[type[models.Model]]:
    for model in apps.get_models():
        if model._meta.app_label in TEXT_SEARCHED_APPS and not model._meta.proxy and model._meta.managed:
            yield model


def rows_naming(model: type[models.Model], needles: list[str]) -> models.QuerySet:
    """Rows of `model` with any of `needles` in any text column (case-insensitive)."""
    condition = Q()
    for f in text_fields(model):
        for needle in needles:
            condition |= Q(**{f"{f.name}__icontains": needle})
    if not condition:
        return model._default_manager.none()
    return model._default_manager.filter(condition)
