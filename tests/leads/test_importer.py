"""import_leads: header aliases, rejects with row numbers, dedup like lead_intake, idempotent re-runs."""

from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from clientsflow.models import AuditEvent
from leads.models import Lead, LeadEvent
from leads.services import importer
from leads.services.importer import HeaderMap, ImportFileError, lead_import_csv
from leads.services.intake import LeadData, lead_intake
from leads.services.merge import lead_merge
from leads.services.owner_edits import lead_update_by_owner

pytestmark = pytest.mark.django_db


def write_csv(tmp_path: Path, text: str, name: str = "leads.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return path


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def counts() -> tuple[int, int, int]:
    return Lead.objects.count(), LeadEvent.objects.count(), AuditEvent.objects.count()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["Name", "Email", "Phone", "Company"], {"name": 0, "email": 1, "phone": 2, "company": 3}),
        (["FULL NAME", "E-mail", "Phone Number", "Organization"], {"name": 0, "email": 1, "phone": 2, "company": 3}),
        (
            ["first_name", "Last Name", "email address", "Mobile"],
            {"first_name": 0, "last_name": 1, "email": 2, "phone": 3},
        ),
        (["Lead Source", "External ID", "cell"], {"source": 0, "external_id": 1, "phone": 2}),
    ],
)
def test_header_aliases_map_case_insensitively(header, expected):
    assert HeaderMap.from_header(header).columns == expected


def test_a_file_without_email_or_phone_column_is_a_command_error(tmp_path):
    path = write_csv(tmp_path, "Name,Company\nAda,Engines\n")

    with pytest.raises(CommandError, match="needs an email column or a phone column"):
        call_command("import_leads", str(path))
    assert Lead.objects.count() == 0


def test_two_columns_meaning_the_same_field_are_refused(tmp_path):
    path = write_csv(tmp_path, "Email,E-mail\na@x.example,b@x.example\n")

    with pytest.raises(ImportFileError, match="both mean email"):
        lead_import_csv(path=path)


def test_mapped_values_first_and_last_name_source_and_external_id(tmp_path):
    path = write_csv(
        tmp_path,
        "First Name,Last Name,Email Address,Mobile,Organisation,Lead Source,Contact ID,Notes\n"
        "Grace,Hopper,GRACE@Navy.example,(415) 555-0199,US Navy,LinkedIn Ads,c-42,ignored\n",
    )

    summary = lead_import_csv(path=path)

    lead = Lead.objects.get()
    assert (lead.name, lead.email_normalized, lead.phone_e164, lead.company) == (
        "Grace Hopper",
        "grace@navy.example",
        "+14155550199",
        "US Navy",
    )
    assert lead.source == "linkedin-ads"
    assert lead.external_ids == {"linkedin-ads": "c-42"}
    assert summary.ignored_columns == ["Notes"]
    assert (summary.created, summary.rejected) == (1, 0)


def test_rejects_file_has_row_numbers_reasons_and_the_original_row(tmp_path):
    long_name = "N" * 201
    path = write_csv(
        tmp_path,
        "Name,Email,Phone,Extra\n"  # row 1
        "Ada,ada@engine.example,,\n"  # row 2: fine
        "\n"  # row 3: blank, skipped
        "Nobody,,,\n"  # row 4: no contact details
        "Bad,not-an-email,,x\n"  # row 5: bad email
        f"{long_name},long@x.example,,\n"  # row 6: too long
        "Bad Phone,,12,\n",  # row 7: not a phone number
    )
    rejects_path = tmp_path / "out" / "rejected.csv"
    rejects_path.parent.mkdir()

    summary = lead_import_csv(path=path, rejects_path=rejects_path)

    assert (summary.created, summary.rejected, summary.blank) == (1, 4, 1)
    rows = read_rejects(rejects_path)
    assert [(r["row"], r["reason"]) for r in rows] == [
        ("4", "A lead needs an email address or a phone number."),
        ("5", "'not-an-email' is not a valid email address."),
        ("6", "'name' is longer than 200 characters."),
        ("7", "'12' is not a possible phone number."),
    ]
    assert rows[1]["Name"] == "Bad" and rows[1]["Email"] == "not-an-email" and rows[1]["Extra"] == "x"


def test_default_rejects_path_is_next_to_the_file_and_the_command_prints_the_summary(tmp_path):
    path = write_csv(tmp_path, "Email\nok@x.example\nnope\n")
    out = StringIO()

    call_command("import_leads", str(path), stdout=out)

    assert "Imported 2 rows: 1 created, 0 enriched, 0 unchanged, 1 rejected." in out.getvalue()
    rows = read_rejects(tmp_path / "leads.csv.rejects.csv")
    assert [(r["row"], r["Email"]) for r in rows] == [("3", "nope")]


def test_utf8_bom_blank_lines_and_ragged_rows(tmp_path):
    path = write_csv(
        tmp_path,
        "Email,Name\r\n\r\nzoe@x.example,Zoë Müller,extra,cells\r\n,,\r\nshort@x.example\r\n",
        bom=True,
    )

    summary = lead_import_csv(path=path)

    assert (summary.created, summary.rejected, summary.blank) == (2, 0, 2)
    assert Lead.objects.get(email_normalized="zoe@x.example").name == "Zoë Müller"
    assert Lead.objects.get(email_normalized="short@x.example").name == ""


@pytest.mark.parametrize(
    ("cells", "blank"),
    [([], True), ([""], True), (["", " ", "\t"], True), ([" ", "\u00a0"], True), (["", "x"], False), ([" y "], False)],
)
def test_a_row_is_blank_when_no_cell_holds_more_than_whitespace(cells, blank):
    assert importer._is_blank(cells) is blank
    assert importer._is_blank(cells) is not any(cell.strip() for cell in cells)


def test_national_numbers_are_read_in_the_default_region(tmp_path, settings):
    settings.PHONE_DEFAULT_REGION = "GB"

    lead_import_csv(path=write_csv(tmp_path, "Name,Phone\nBrit,020 7946 0958\n"))

    assert Lead.objects.get().phone_e164 == "+442079460958"


def test_a_windows_1252_file_is_read_as_such(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("Email,Name\nj@x.example,Jos\xe9 M\xfcller \u20ac\n".encode("cp1252"))

    lead_import_csv(path=path)

    assert Lead.objects.get().name == "José Müller €"


def test_a_file_that_is_neither_utf8_nor_windows_1252_is_a_clear_error(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"Email,Name\nj@x.example,Jos\x81\x8d\n")

    with pytest.raises(CommandError, match="neither UTF-8 nor Windows-1252"):
        call_command("import_leads", str(path))


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_the_delimiter_is_detected_from_the_header(tmp_path, delimiter):
    rows = [["Name", "Email", "Phone", "Company"], ["Ann Lee", "ann@x.example", "+1 415 555 0100", "Lee, Inc"]]
    text = "\n".join(delimiter.join(f'"{c}"' if delimiter in c or "," in c else c for c in row) for row in rows)
    path = write_csv(tmp_path, text + "\n", bom=True)

    summary = lead_import_csv(path=path)

    lead = Lead.objects.get()
    assert summary.created == 1
    assert (lead.name, lead.email, lead.phone_e164, lead.company) == (
        "Ann Lee",
        "ann@x.example",
        "+14155550100",
        "Lee, Inc",
    )


def test_a_source_with_punctuation_is_cleaned_not_rejected(tmp_path):
    path = write_csv(
        tmp_path, "Email;Source\nann@x.example;Trade show (Berlin)!\nbob@x.example;Messe Köln\nc@x.example;!!!\n"
    )

    summary = lead_import_csv(path=path)

    assert Lead.objects.get(email="ann@x.example").source == "trade-show-berlin"
    assert Lead.objects.get(email="bob@x.example").source == "messe-koln"
    assert (summary.created, summary.rejected) == (2, 1)  # nothing usable is left of "!!!"
    assert "at least one letter or digit" in read_rejects(summary.rejects_path)[0]["reason"]


def test_internationalised_emails_are_accepted_and_one_person(tmp_path):
    path = write_csv(tmp_path, "Email,Name\nzoë@exämple.de,Zoë\nZOË@EXÄMPLE.DE,Zoë again\n")

    summary = lead_import_csv(path=path)

    lead = Lead.objects.get()
    assert (summary.created, summary.rejected) == (1, 0)
    assert lead.email_normalized == "zoë@exämple.de"


def test_the_command_prints_only_its_summary_on_stdout(tmp_path):
    path = write_csv(tmp_path, "Email,Name\nann@x.example,Ann\nnot-an-email,Bad\n")
    out, err = StringIO(), StringIO()

    call_command("import_leads", str(path), stdout=out, stderr=err)

    lines = out.getvalue().splitlines()
    assert lines[-1] == "Imported 2 rows: 1 created, 0 enriched, 0 unchanged, 1 rejected."
    assert all(not line.startswith("{") for line in lines)  # no JSON log line among them


def test_dedup_by_email_and_by_phone_format_within_the_file_and_against_existing_leads(tmp_path):
    existing = lead_intake(data=LeadData.build(name="Pat", email="pat@shop.example"), source="website").lead
    path = write_csv(
        tmp_path,
        "Name,Email,Phone,Company\n"
        "Pat,PAT@shop.example,,Pat's Shop\n"  # same email as the webhook lead: fills the company
        "Sam,,+1 (415) 555-0134,\n"  # new lead by phone
        "Sam,,415.555.0134,Sam Co\n",  # the same phone in another format
    )

    summary = lead_import_csv(path=path)

    assert (summary.created, summary.enriched, summary.unchanged) == (1, 2, 0)
    assert Lead.objects.count() == 2
    existing.refresh_from_db()
    assert existing.company == "Pat's Shop"
    sam = Lead.objects.get(phone_e164="+14155550134")
    assert sam.company == "Sam Co"
    assert sam.events.filter(kind=LeadEvent.Kind.DUPLICATE_INTAKE, data__matched_on="phone").count() == 1


def test_owner_edited_fields_are_not_overwritten(tmp_path):
    lead = lead_intake(data=LeadData.build(name="Ann", email="ann@x.example"), source="website").lead
    lead_update_by_owner(lead=lead, changes={"company": "Ann's Real Company"}, actor=None)
    path = write_csv(tmp_path, "Email,Company,Name\nann@x.example,Wrong Inc,Ann Lee\n")

    summary = lead_import_csv(path=path)

    lead.refresh_from_db()
    assert lead.company == "Ann's Real Company"
    assert lead.name == "Ann"  # a CSV only fills empty fields; the other name is noted
    assert lead.events.filter(kind=LeadEvent.Kind.ALSO_SEEN, data__value="Ann Lee").exists()
    assert summary.enriched == 1


def test_running_the_same_file_twice_writes_nothing_the_second_time(tmp_path):
    path = write_csv(
        tmp_path,
        "Name,Email,Phone,Company,ID\n"
        "Ada,ada@engine.example,+1 (415) 555-0134,Engines,a1\n"
        "Ada Lovelace,,415.555.0134,Analytical Engines,\n"  # same person, other details: noted
        "Bob,bob@x.example,+44 20 7946 0958,,\n"
        "Bob,bob@x.example,+1 212 555 0100,,\n"  # a second phone for Bob: noted on his timeline
        "Carl,carl@x.example,,,\n"
        "Carl,carl@x.example,,,\n"  # an exact repeat
        "Nobody,,,,\n",
    )
    first = lead_import_csv(path=path)
    before = counts()

    second = lead_import_csv(path=path)

    assert (first.created, first.enriched, first.unchanged, first.rejected) == (3, 2, 1, 1)
    assert (second.created, second.enriched, second.unchanged, second.rejected) == (0, 0, 6, 1)
    assert counts() == before
    ada = Lead.objects.get(email_normalized="ada@engine.example")
    assert (ada.name, ada.company) == ("Ada", "Engines")
    assert ada.events.filter(kind=LeadEvent.Kind.ALSO_SEEN).count() == 2


def test_a_renamed_copy_of_the_file_is_recognized_too(tmp_path):
    text = "Email,Name\nx@x.example,X\ny@x.example,Y\n"
    lead_import_csv(path=write_csv(tmp_path, text, name="monday.csv"))
    before = counts()

    again = lead_import_csv(path=write_csv(tmp_path, text, name="tuesday-copy.csv"))

    assert again.unchanged == 2
    assert counts() == before


def test_a_row_for_a_merged_lead_goes_to_the_survivor(tmp_path):
    survivor = lead_intake(data=LeadData.build(email="keep@x.example"), source="website").lead
    duplicate = lead_intake(data=LeadData.build(email="old@x.example", phone="+1 212 555 0111"), source="website").lead
    lead_merge(survivor=survivor, duplicate=duplicate)
    path = write_csv(tmp_path, "Email,Company\nold@x.example,Found Co\n")

    summary = lead_import_csv(path=path)

    survivor.refresh_from_db()
    assert summary.enriched == 1
    assert survivor.company == "Found Co"
    assert Lead.objects.filter(merged_into__isnull=True).count() == 1


def test_bulk_created_leads_look_exactly_like_lead_intake_ones(tmp_path):
    """The bulk path writes what lead_intake writes for a new lead: a guard against drift."""
    via_service = lead_intake(
        data=LeadData.build(name="Svc", email="svc@x.example", phone="+1 212 555 0122", company="C", external_id="e1"),
        source="csv",
        actor_label=importer.ACTOR_LABEL,
        via="csv leads.csv row 2 #x",
    ).lead
    lead_import_csv(path=write_csv(tmp_path, "Name,Email,Phone,Company,ID\nBulk,bulk@x.example,+1 212 555 0123,C,e1\n"))
    via_bulk = Lead.objects.get(email_normalized="bulk@x.example")

    compared = ("source", "stage", "external_ids", "owner_edited_fields", "merged_into_id", "seen_at")
    assert [getattr(via_bulk, f) for f in compared] == [getattr(via_service, f) for f in compared]
    service_event, bulk_event = (LeadEvent.objects.get(lead=lead) for lead in (via_service, via_bulk))
    assert (bulk_event.kind, bulk_event.summary, sorted(bulk_event.data)) == (
        service_event.kind,
        service_event.summary,
        sorted(service_event.data),
    )
    service_audit, bulk_audit = (AuditEvent.objects.get(object_id=str(lead.pk)) for lead in (via_service, via_bulk))
    assert (bulk_audit.verb, bulk_audit.actor_label, bulk_audit.object_type, sorted(bulk_audit.details)) == (
        service_audit.verb,
        service_audit.actor_label,
        service_audit.object_type,
        sorted(service_audit.details),
    )
    assert bulk_audit.object_repr == str(via_bulk)


def test_chunks_see_leads_created_by_earlier_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK_SIZE", 2)
    rows = "".join(f"p{i}@x.example\n" for i in range(5)) + "P0@x.example\np4@X.example\n"

    summary = lead_import_csv(path=write_csv(tmp_path, "Email\n" + rows))

    assert (summary.created, summary.unchanged) == (5, 2)
    assert Lead.objects.count() == 5


def test_a_bad_source_option_is_a_command_error(tmp_path):
    path = write_csv(tmp_path, "Email\na@x.example\n")

    with pytest.raises(CommandError, match="source"):
        call_command("import_leads", str(path), "--source", "!!")
