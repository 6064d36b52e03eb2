"""The set-based CSV import ends where taking the rows in one by one with `lead_intake` ends.

One tricky file (repeats inside the file in other formats, rows for existing leads, a phone shared
by two emails, two new people sharing a new phone, existing leads enriched, an owner-edited field,
a merged lead, an address written composed and decomposed, rows that must be rejected) is imported
both ways from the same starting point; the leads, the possible duplicates and the timeline are compared.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from django.db import transaction

from clientsflow.errors import DomainError, InvalidInput
from clientsflow.models import AuditEvent
from leads.models import Lead, LeadEvent, PossibleDuplicate
from leads.services import importer
from leads.services.intake import LeadData, lead_intake
from leads.services.merge import lead_merge
from leads.services.owner_edits import lead_update_by_owner

pytestmark = pytest.mark.django_db

TRICKY = (
    "Name,Email,Phone,Company,Source,ID\n"
    "Ada,ada@engine.example,+1 (415) 555-0134,Engines,,a1\n"
    "Ada Lovelace,ADA@Engine.example,415.555.0134,Analytical Engines,,\n"  # same person, other case
    "Ada L,,(415) 555 0134,,,\n"  # only her phone, another format
    "Carol,carol@carolco.example,+1 415 555 0134,CarolCo,,\n"  # Ada's phone, another email
    "Ann Lee,ann@x.example,+1 212 555 0100,Wrong Inc,,\n"  # existing, owner-edited company
    "Old,old@x.example,,Olds,,\n"  # existing, merged into Surv
    "Surv Again,surv@x.example,+1 646 555 0101,,trade show,\n"
    "Phone Only,,+44 20 7946 0958,,,\n"
    "Phone Only Again,,+442079460958,Brit Ltd,,\n"
    "Carl,carl@x.example,,,,\n"
    "Carl,carl@x.example,,,,\n"  # an exact repeat
    "Nobody,,,,,\n"  # neither email nor phone
    "Bad,not-an-email,,,,\n"
    "Bad Phone,,12,,,\n"
    "Bad Source,src@x.example,,,!!!,\n"
    "Dee,dee@x.example,+1 415 555 0134,,,\n"  # a third email on Ada's phone
    "Eve Adams,EVE@x.example,+1 303 555 0111,Eve Co,,e1\n"  # existing, enriched: phone, company, id
    "Phil,phil@x.example,303-555-0199,,,\n"  # existing phone-only lead: gets this email
    "Gus,gus@x.example,(212) 555-0177,,,\n"  # two new people on one new phone, one chunk
    "Hal,hal@x.example,212.555.0177,Hal Inc,,\n"
    "Ivy,,+1 718 555 0123,,,\n"  # new, by phone only...
    " Ivy  Stone , IVY@X.example , 718-555-0123,Stone LLC,,\n"  # ...then her email too, other clothes
    "Jo,jo@x.example,+1 303 555 0111,,,\n"  # the phone Eve was just given, under another email
    "Zoë,ZOË@exämple.de,,,,\n"
    "Zoe Z,zoe\u0308@exämple.de,+49 30 901820,,,\n"  # the same address decomposed (NFD)
    "Eve,eve@x.example,+1 303 555 0111,Other Co,,\n"  # Eve again: company differs, noted once
)


def seed() -> None:
    ann = lead_intake(data=LeadData.build(name="Ann", email="ann@x.example"), source="website").lead
    lead_update_by_owner(lead=ann, changes={"company": "Ann's Real Company"}, actor=None)
    surv = lead_intake(data=LeadData.build(name="Surv", email="surv@x.example"), source="website").lead
    old = lead_intake(data=LeadData.build(name="Old", email="old@x.example"), source="website").lead
    lead_merge(survivor=surv, duplicate=old, actor=None)
    lead_intake(data=LeadData.build(name="Eve", email="eve@x.example"), source="website")
    lead_intake(data=LeadData.build(name="Phil", phone="+1 303 555 0199"), source="website")


def one_by_one(path: Path) -> int:
    """Each row through `lead_intake`, parsed by the importer's own header mapping."""
    rejected = 0
    records = importer._records(path)
    _number, header_cells = next(records)
    header = importer.HeaderMap.from_header(header_cells)
    for _number, cells in records:
        if importer._is_blank(cells):
            continue
        try:
            data, source = importer._row_data(header, cells, importer.DEFAULT_SOURCE)
            lead_intake(data=data, source=source, actor_label=importer.ACTOR_LABEL, via="row")
        except (InvalidInput, DomainError):
            rejected += 1
    return rejected


def snapshot() -> dict:
    key = {lead.pk: lead.email_normalized or lead.phone_e164 for lead in Lead.objects.all()}
    leads = sorted(
        (
            lead.name,
            lead.email,
            lead.email_normalized,
            lead.phone,
            lead.phone_e164,
            lead.company,
            lead.source,
            tuple(sorted(lead.external_ids.items())),
            key.get(lead.merged_into_id, ""),
        )
        for lead in Lead.objects.all()
    )
    pairs = sorted(
        (*sorted((key[p.lead_a_id], key[p.lead_b_id])), p.reason, p.status) for p in PossibleDuplicate.objects.all()
    )
    # A row that changes nothing is skipped by the import (so a re-run writes nothing), while
    # `lead_intake` notes "arrived again": those two kinds are compared as "any", the rest exactly.
    events = Counter(
        (key[lead_id], kind)
        for lead_id, kind in LeadEvent.objects.values_list("lead_id", "kind")
        if kind != "duplicate_intake"
    )
    audits = Counter(
        (key[int(object_id)], verb)
        for object_id, verb in AuditEvent.objects.filter(object_type="leads.lead").values_list("object_id", "verb")
        if verb == "lead.created"
    )
    return {"leads": leads, "pairs": pairs, "events": events, "audits": audits}


@pytest.mark.parametrize("chunk_size", [1000, 3, 2])
def test_import_matches_lead_intake_row_by_row(tmp_path, monkeypatch, chunk_size):
    monkeypatch.setattr(importer, "CHUNK_SIZE", chunk_size)
    path = tmp_path / "tricky.csv"
    path.write_text(TRICKY, encoding="utf-8")

    with transaction.atomic():
        seed()
        summary = importer.lead_import_csv(path=path)
        imported = snapshot()
        transaction.set_rollback(True)
    with transaction.atomic():
        seed()
        rejected = one_by_one(path)
        expected = snapshot()
        transaction.set_rollback(True)

    assert imported["leads"] == expected["leads"]
    assert imported["pairs"] == expected["pairs"]
    assert imported["events"] == expected["events"]
    assert imported["audits"] == expected["audits"]
    assert summary.rejected == rejected
    assert len(expected["pairs"]) >= 4  # the file does exercise shared phones
    # ...and enriches existing leads and merges repeats made inside the file.
    by_email = {lead[2]: lead for lead in expected["leads"]}
    assert by_email["eve@x.example"][4:6] == ("+13035550111", "Eve Co")
    assert by_email["phil@x.example"][4] == "+13035550199"
    assert by_email["ivy@x.example"][5] == "Stone LLC"
    assert "zoë@exämple.de" in by_email
