"""Every way a lead arrives (webhooks, CSV import, forms, bookings) goes through `lead_intake`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connections, models, router, transaction

from clientsflow.audit import audit_event
from clientsflow.cache import board_stages_bump
from clientsflow.errors import InvalidInput
from clientsflow.models import AuditEvent
from clientsflow.prepared import (
    insert_linked_rows,
    insert_row,
    insert_row_with_children,
    update_row,
    update_row_and_insert_rows,
    update_row_if_unchanged_and_insert_rows,
)
from leads.models import CARD_FIELDS, ENRICHABLE_FIELDS, Lead, LeadEvent, PossibleDuplicate
from leads.services.dedup import possible_duplicate_record
from leads.services.identity import (
    lead_holders,
    lead_holders_query,
    lead_identify,
    normalize_email,
    normalize_phone,
)
from leads.services.timeline import timeline_data, timeline_event

logger = logging.getLogger(__name__)

MAX_FIELD = {"name": 200, "email": 254, "phone": 64, "company": 200}


@dataclass(frozen=True)
class LeadData:
    """Contact details as they arrived, cleaned and validated."""

    name: str = ""
    email: str = ""
    phone: str = ""
    company: str = ""
    external_id: str = ""
    email_normalized: str = field(default="", compare=False)
    phone_e164: str = field(default="", compare=False)

    @classmethod
    def build(
        cls,
        *,
        name: Any = "",
        email: Any = "",
        phone: Any = "",
        company: Any = "",
        external_id: Any = "",
        phone_region: str | None = None,
    ) -> LeadData:
        """The details cleaned (whitespace collapsed, lengths checked) and normalized; InvalidInput
        when a value is not usable or neither an email nor a phone is left. A national phone
        number is read in `phone_region` (default: `settings.PHONE_DEFAULT_REGION`; a caller
        building many reads the setting once and passes it)."""
        name = _clean_text("name", name)
        email = _clean_text("email", email)
        phone = _clean_text("phone", phone)
        company = _clean_text("company", company)
        email_normalized = normalize_email(email)
        phone_e164 = normalize_phone(phone, phone_region)
        if not email_normalized and not phone_e164:
            raise InvalidInput("A lead needs an email address or a phone number.")
        return cls(name, email, phone, company, str(external_id or "")[:200], email_normalized, phone_e164)


def _clean_text(key: str, raw: Any) -> str:
    if raw.__class__ is not str:  # text, as from a CSV file, needs none of these steps
        if raw is None:
            raw = ""
        if not isinstance(raw, str | int | float):
            raise InvalidInput(f"'{key}' must be text.")
        raw = str(raw)
    text = " ".join(raw.split())
    if len(text) > MAX_FIELD[key]:
        raise InvalidInput(f"'{key}' is longer than {MAX_FIELD[key]} characters.")
    return text


def _first(payload: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = payload.get(key)
        if value not in (None, ""):
            return value
    return ""


def parse_lead_payload(payload: dict[str, Any]) -> LeadData:
    """Read the common shapes of lead payloads (generic forms, GoHighLevel contacts)."""
    nested = payload.get("contact")
    contact = nested if isinstance(nested, dict) else payload
    name = _first(contact, "name", "full_name", "fullName", "contact_name")
    if not name:
        first = _first(contact, "first_name", "firstName")
        last = _first(contact, "last_name", "lastName")
        name = " ".join(str(part) for part in (first, last) if part)
    return LeadData.build(
        name=name,
        email=_first(contact, "email", "email_address", "emailAddress"),
        phone=_first(contact, "phone", "phone_number", "phoneNumber"),
        company=_first(contact, "company", "company_name", "companyName", "organization"),
        external_id=_first(contact, "contact_id", "contactId", "external_id", "id"),
    )


@dataclass
class IntakeResult:
    lead: Lead
    created: bool
    matched_on: str = ""
    changed: dict[str, Any] = field(default_factory=dict)


def enrich_in_memory(lead: Lead, data: LeadData, source: str) -> dict[str, Any]:
    """Fill the lead's empty fields from the new details; a filled field is never changed.

    Intake is unauthenticated input (webhooks, forms, CSV): only staff edits overwrite. What
    differs is noted on the timeline instead (`also_seen_pending`). Changes `lead` in memory
    only and returns what changed; the caller saves (or, for a dry run such as the importer's
    "would this row change anything?", works on a copy and discards it).
    """
    changed: dict[str, Any] = {}
    for name in ENRICHABLE_FIELDS:
        new = getattr(data, name)
        if not new or getattr(lead, name):
            continue
        # An email or phone another active lead holds is that lead's, not this one's to take.
        if (
            name == "phone"
            and Lead.objects.filter(phone_e164=data.phone_e164, merged_into__isnull=True).exclude(pk=lead.pk).exists()
        ):
            continue
        if (
            name == "email"
            and Lead.objects.filter(email_normalized=data.email_normalized, merged_into__isnull=True)
            .exclude(pk=lead.pk)
            .exists()
        ):
            continue
        changed[name] = {"from": "", "to": new}
        setattr(lead, name, new)
        if name == "email":
            lead.email_normalized = data.email_normalized
        if name == "phone":
            lead.phone_e164 = data.phone_e164
    if data.external_id and lead.external_ids.get(source) != data.external_id:
        lead.external_ids = {**lead.external_ids, source: data.external_id}
        changed["external_id"] = {"source": source, "to": data.external_id}
    return changed


# What each key of `enrich_in_memory`'s answer changed on the lead, as stored fields.
_FIELDS_OF_CHANGE = {
    "name": ("name",),
    "email": ("email", "email_normalized"),
    "phone": ("phone", "phone_e164"),
    "company": ("company",),
    "external_id": ("external_ids",),
}


_SHOWN_ON_CARD = frozenset(CARD_FIELDS)


def _written_fields(changed: dict[str, Any]) -> tuple[str, ...]:
    return tuple(name for key in sorted(changed) for name in _FIELDS_OF_CHANGE[key])


def _comparable(lead_or_data: Any, name: str) -> str:
    if name == "email":
        return lead_or_data.email_normalized
    if name == "phone":
        return lead_or_data.phone_e164
    return " ".join(str(getattr(lead_or_data, name)).split()).casefold()


def _differing(lead: Lead, data: LeadData) -> dict[str, str]:
    """The details given that differ from the lead's."""
    return {
        name: getattr(data, name)
        for name in ENRICHABLE_FIELDS
        if getattr(data, name) and _comparable(data, name) != _comparable(lead, name)
    }


def also_seen_pending(lead: Lead, data: LeadData) -> dict[str, str]:
    """The new details that differ from the lead's (after any filling) and are not yet noted."""
    differing = _differing(lead, data)
    if not differing:
        return {}
    noted = {
        (event["field"], event["value"])
        for event in timeline_data(lead=lead, kind=LeadEvent.Kind.ALSO_SEEN)
        if isinstance(event, dict) and "field" in event and "value" in event
    }
    return {name: value for name, value in differing.items() if (name, value) not in noted}


FIELD_LABELS = {"name": "name", "email": "email", "phone": "phone", "company": "company"}


def also_seen_events(*, lead: Lead, values: dict[str, str], source: str, via: str = "") -> list[LeadEvent]:
    """The "also seen as …" timeline events (not yet written) keeping each differing value, unapplied."""
    return [
        timeline_event(
            lead=lead,
            kind=LeadEvent.Kind.ALSO_SEEN,
            summary=f'Also seen as {FIELD_LABELS[name]} "{value}" (from {source})',
            data={"field": name, "value": value, "source": source, "via": via},
        )
        for name, value in values.items()
    ]


def lead_intake(
    *,
    data: LeadData,
    source: str,
    actor_label: str = "intake",
    via: str = "",
    savepoint: bool = True,
    pending_rows: list[Any] | None = None,
) -> IntakeResult:
    """Create the lead, or fill the empty fields of the one these details already belong to.

    Dedup is `lead_identify`'s rule: exact normalized email, then E.164 phone unless the emails
    differ (then it is a new lead and a possible duplicate of the phone's holder). Two intakes
    racing for one new address are settled by the unique constraints: the loser's INSERT writes
    nothing (`ON CONFLICT DO NOTHING`, after waiting for the winner's commit on PostgreSQL) and it
    looks again, finding the winner's lead.

    Inside a caller's transaction this runs in a savepoint, so a failure here leaves the caller's
    own writes usable. `savepoint=False` is for a caller that rolls its whole transaction back
    when this raises (the webhook inbox's handlers): the savepoint's two statements are saved.

    The rows are written in as few round trips as they can be: a new lead with its timeline and
    audit rows in one statement; for a lead seen before, the UPDATE of the fields it filled and the
    new timeline and audit rows sent together (`update_row_and_insert_rows`: one round trip on
    PostgreSQL). Given `pending_rows`, the timeline and audit rows are appended to it
    instead, for the caller to write with its own before its transaction commits
    (`clientsflow.prepared.insert_rows_together`); nothing in its transaction may read them first.
    """
    for attempt in range(3):
        # A try's rows reach the caller only once the try succeeded (a failed one rolled back).
        rows: list[Any] | None = [] if pending_rows is not None else None
        try:
            with transaction.atomic(savepoint=savepoint):
                result = _intake_once(data=data, source=source, actor_label=actor_label, via=via, pending_rows=rows)
        except IntegrityError:
            # A constraint no look-up foresaw (two enrichments racing for one address): again,
            # from a fresh look-up. Without a savepoint there is nothing left to try again in.
            if attempt == 2 or not savepoint:
                raise
            continue
        if result is not None:
            if pending_rows is not None and rows:
                pending_rows.extend(rows)
            return result
    raise IntegrityError("These details were taken by another intake on every try; deliver them again.")


def _new_lead_rows(*, data: LeadData, source: str, actor_label: str, via: str) -> tuple[Lead, LeadEvent, AuditEvent]:
    """A new lead from these details, its "created" timeline event and its audit row, not yet written."""
    lead = Lead(
        name=data.name,
        email=data.email,
        email_normalized=data.email_normalized,
        phone=data.phone,
        phone_e164=data.phone_e164,
        company=data.company,
        source=source,
        external_ids={source: data.external_id} if data.external_id else {},
    )
    created = timeline_event(
        lead=lead,
        kind=LeadEvent.Kind.CREATED,
        summary=f"Arrived from {source}",
        data={"source": source, "via": via},
    )
    audit = audit_event(verb="lead.created", obj=lead, actor_label=actor_label, details={"source": source, "via": via})
    return lead, created, audit


def lead_intake_with_row(
    row: models.Model, *, data: LeadData, source: str, actor_label: str = "intake", via: str = ""
) -> IntakeResult | None:
    """PostgreSQL: `lead_intake` of a new person and `row` (a new row of another model: the webhook
    inbox's event) in one statement, which commits both at once when no transaction is open.

    Written only when no lead, merged ones too, holds the email or the phone, so `lead_intake`
    would create the lead and flag no possible duplicate, and only when `row` conflicts with no
    stored row (a replay): the rows written are then those `lead_intake` writes (the lead, its
    "created" event and audit row), and `row`. When a lead holds them, a repeat that adds nothing
    to it is written with `row` by one more statement (`_repeat_with_row`). Otherwise, or if
    another intake creates the same lead meanwhile (a unique conflict), nothing is written and
    None is returned: the caller goes the usual way. Elsewhere than on PostgreSQL, always None.
    """
    using = router.db_for_write(Lead)
    if connections[using].vendor != "postgresql":
        return None
    lead, created, audit = _new_lead_rows(data=data, source=source, actor_label=actor_label, via=via)
    unless = lead_holders_query(email_normalized=data.email_normalized, phone_e164=data.phone_e164, using=using)
    try:
        written = insert_linked_rows(
            [(row, None), (lead, (0, None)), (created, (1, "lead_id")), (audit, (1, "object_id"))],
            unless=unless,
            using=using,
        )
    except IntegrityError:
        return None  # the lead's email or phone was taken meanwhile: nothing was written
    if not written:
        return _repeat_with_row(row, data=data, source=source, actor_label=actor_label, via=via, using=using)
    # The board sees the arrival from the counters the insert moved (`column_stamps`): no bump.
    return IntakeResult(lead=lead, created=True)


# What a repeat delivery's decision reads from its lead's row: a write in between to any of these
# makes `_repeat_with_row` write nothing (the usual way then decides again, under the row's lock).
_REPEAT_READS = ("name", "email", "email_normalized", "phone", "phone_e164", "company", "external_ids")


def _repeat_with_row(
    row: models.Model, *, data: LeadData, source: str, actor_label: str, via: str, using: str
) -> IntakeResult | None:
    """PostgreSQL: `lead_intake` of a person delivered again whose details add nothing the lead
    lacks or differs from (the common repeat: the same person, the email in capitals, the phone
    written another way, a new payload id), and `row`, in one statement after one read.

    The lead is read unlocked (`lead_holders`); the rows are those `lead_intake` would write for
    it (the fields filled, the "arrived again" timeline event and audit row), written only if no
    column the decision read changed meanwhile and `row` is not a replay. Otherwise, and for any
    other case (details to fill or note, several holders, a merged one), nothing is written and
    None is returned: the caller goes the usual way.
    """
    holders = lead_holders(email_normalized=data.email_normalized, phone_e164=data.phone_e164)
    if len(holders) != 1 or holders[0].merged_into_id is not None:
        return None
    existing = holders[0]
    if data.email_normalized:
        if existing.email_normalized != data.email_normalized:
            return None
        matched_on = "email"
    else:
        matched_on = "phone"
    if data.phone_e164 and existing.phone_e164 != data.phone_e164:
        return None
    if _differing(existing, data) or any(getattr(data, n) and not getattr(existing, n) for n in ENRICHABLE_FIELDS):
        return None  # something to fill (after checks of other leads) or to note on the timeline
    unchanged: dict[str, object] = {name: getattr(existing, name) for name in _REPEAT_READS}
    unchanged["merged_into_id"] = None
    changed = enrich_in_memory(existing, data, source)  # the payload id at most, here
    rows = _repeat_rows(
        existing, data=data, source=source, actor_label=actor_label, via=via, matched_on=matched_on, changed=changed
    )
    try:
        written = update_row_if_unchanged_and_insert_rows(
            existing,
            fields=_written_fields(changed) if changed else (),
            unchanged=unchanged,
            rows=[(row, None), *((r, None) for r in rows)],
            using=using,
        )
    except IntegrityError:
        return None  # a replay of `row`: nothing was written
    if not written:
        return None
    return IntakeResult(lead=existing, created=False, matched_on=matched_on, changed=changed)


def _repeat_rows(
    existing: Lead, *, data: LeadData, source: str, actor_label: str, via: str, matched_on: str, changed: dict[str, Any]
) -> list[Any]:
    """The "arrived again" timeline event and audit row of a repeat delivery, not yet written."""
    extra = {}
    if data.email_normalized and data.email_normalized != existing.email_normalized:
        extra["other_email"] = data.email
    if data.phone_e164 and data.phone_e164 != existing.phone_e164:
        extra["other_phone"] = data.phone
    return [
        timeline_event(
            lead=existing,
            kind=LeadEvent.Kind.DUPLICATE_INTAKE,
            summary=f"Arrived again from {source} (same {matched_on})",
            data={"source": source, "via": via, "matched_on": matched_on, "changed": changed, **extra},
        ),
        audit_event(
            verb="lead.duplicate_intake",
            obj=existing,
            actor_label=actor_label,
            details={"source": source, "matched_on": matched_on, "changed_fields": sorted(changed)},
        ),
    ]


def _intake_once(
    *, data: LeadData, source: str, actor_label: str, via: str, pending_rows: list[Any] | None = None
) -> IntakeResult | None:
    """One try: None when another intake created a lead with these details meanwhile (look again).
    With `pending_rows`, the timeline and audit rows go there instead of to the database."""
    identity = lead_identify(email_normalized=data.email_normalized, phone_e164=data.phone_e164, for_update=True)
    existing, matched_on = identity.lead, identity.matched_on
    if existing is None:
        lead, created, audit = _new_lead_rows(data=data, source=source, actor_label=actor_label, via=via)
        # The lead, then its timeline event and audit row only if the lead was written: one
        # statement on PostgreSQL. A conflict means another intake created it meanwhile.
        if pending_rows is None:
            insert_row_with_children(lead, [(created, "lead_id"), (audit, "object_id")], ignore_conflicts=True)
        else:
            insert_row(lead, ignore_conflicts=True)
        if lead.pk is None:
            return None
        if pending_rows is not None:
            created.lead_id, audit.object_id = lead.pk, str(lead.pk)
            pending_rows.extend((created, audit))
        for other in identity.shares_phone_with:
            possible_duplicate_record(lead=lead, other=other, reason=PossibleDuplicate.Reason.SAME_PHONE)
        # The board sees the arrival from the counters the insert moved (`column_stamps`): no bump.
        return IntakeResult(lead=lead, created=True)

    changed = enrich_in_memory(existing, data, source)
    # What the lead was also seen as is read before the lead's UPDATE (it reads the timeline only),
    # so that the UPDATE and the new rows go in one round trip on PostgreSQL.
    rows: list[Any] = also_seen_events(lead=existing, values=also_seen_pending(existing, data), source=source, via=via)
    rows += _repeat_rows(
        existing, data=data, source=source, actor_label=actor_label, via=via, matched_on=matched_on, changed=changed
    )
    fields = _written_fields(changed) if changed else ()
    if pending_rows is None:
        update_row_and_insert_rows(existing, fields=fields, rows=rows)
    else:
        if fields:
            update_row(existing, fields=fields)
        pending_rows.extend(rows)
    if _SHOWN_ON_CARD.intersection(fields):
        board_stages_bump(existing.stage)  # a card's text changed; its column's stamp did not
    return IntakeResult(lead=existing, created=False, matched_on=matched_on, changed=changed)
