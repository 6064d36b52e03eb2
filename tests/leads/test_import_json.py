"""The bulk import's hand-assembled values are what the general code makes: each JSON text is
`json.dumps` of the value (what `JSONField` stores), each public id is a version-4 UUID."""

from __future__ import annotations

import json
import uuid

import pytest

from clientsflow.models import AuditEvent
from leads.models import Lead, LeadEvent
from leads.services import importer
from leads.services.intake import LeadData

FILE_NAMES = [
    "leads.csv",
    'odd "quoted" \\ name.csv',
    "Zoë\u2019s leads ☃.csv",
    "tab\there.csv",
    "😀.csv",
    "a</script>.csv",
]
SOURCES = ["csv", "trade-show", "x_1"]
EXTERNAL_IDS = ["", "c1", 'q"uote', "back\\slash", "zoë", "\u2028line", "\x01ctl", "😀"]


def row(number: int, source: str, external_id: str) -> importer._Row:
    data = LeadData.build(name="Ann Zoë", email="ann@x.example", phone="+1 212 555 0100", external_id=external_id)
    return importer._Row(number=number, raw=[], data=data, source=source)


@pytest.mark.parametrize("file_name", FILE_NAMES)
def test_details_and_external_ids_are_json_dumps_of_the_values(file_name):
    encode = importer._ChunkJson(file_name)
    for number in (2, 10, 123456):
        for source in SOURCES:
            for external_id in EXTERNAL_IDS:
                r = row(number, source, external_id)

                details = encode.details(r)
                external_ids = encode.external_ids(source, external_id)

                assert details == json.dumps({"source": source, "via": importer._via(file_name, r)})
                assert external_ids == json.dumps({source: external_id} if external_id else {})
                assert json.loads(details)["via"] == f"csv {file_name} row {number} #{importer._fingerprint(r)}"


def test_public_ids_are_distinct_version_4_uuids_in_ascending_order():
    ids = importer._new_public_ids(2000)

    assert len(set(ids)) == 2000
    assert all(isinstance(value, uuid.UUID) for value in ids)
    assert {(value.version, value.variant) for value in ids} == {(4, uuid.RFC_4122)}
    assert ids == sorted(ids, key=lambda value: value.int)
    assert importer._new_public_ids(0) == []


@pytest.mark.django_db
def test_imported_rows_store_those_values(tmp_path):
    path = tmp_path / 'odd "name".csv'
    path.write_text('Name,Email,ID,Source\nAnn,ann@x.example,c"1,Trade Show\nBo,bo@x.example,,\n', encoding="utf-8")

    importer.lead_import_csv(path=path)

    ann, bo = Lead.objects.order_by("id")
    assert (ann.external_ids, bo.external_ids) == ({"trade-show": 'c"1'}, {})
    for lead, number in ((ann, 2), (bo, 3)):
        event = LeadEvent.objects.get(lead=lead)
        audit = AuditEvent.objects.get(object_type="leads.lead", object_id=str(lead.pk))
        assert event.data == audit.details == {"source": lead.source, "via": event.data["via"]}
        assert event.data["via"].startswith(f'csv odd "name".csv row {number} #')
