"""lead_intake: dedup by email then phone, enrichment that respects the owner's edits."""

from __future__ import annotations

import pytest

from clientsflow.errors import InvalidInput
from leads.models import Lead, LeadEvent
from leads.services.identity import lead_identify
from leads.services.intake import LeadData, lead_intake, parse_lead_payload
from leads.services.owner_edits import lead_update_by_owner

pytestmark = pytest.mark.django_db


def intake(**fields):
    return lead_intake(data=LeadData.build(**fields), source=fields.pop("source", "website"))


def test_new_details_create_a_lead_with_a_created_event():
    result = intake(name="Ada Lovelace", email="ADA@Engine.example", phone="+44 20 7946 0958")

    assert result.created
    lead = result.lead
    assert lead.email_normalized == "ada@engine.example"
    assert lead.phone_e164 == "+442079460958"
    assert LeadEvent.objects.filter(lead=lead, kind=LeadEvent.Kind.CREATED).count() == 1


@pytest.mark.parametrize("second", ["415.555.0134", "+1 (415) 555-0134", "(415) 555 0134", "+14155550134"])
def test_phone_formats_are_one_lead_with_a_us_default_region(second):
    first = intake(phone="+1 (415) 555-0134", name="Pat")
    again = intake(phone=second, company="Pat & Co")

    assert not again.created
    assert again.lead.pk == first.lead.pk
    assert again.matched_on == "phone"
    assert Lead.objects.count() == 1


def test_email_wins_over_phone_when_both_match_different_leads():
    by_email = intake(email="a@example.com")
    intake(phone="+14155550134")

    again = intake(email="A@example.com", phone="415-555-0134")

    assert again.lead.pk == by_email.lead.pk
    assert again.matched_on == "email"
    # the phone belongs to another lead, so it is not copied over (that would break uniqueness)
    assert again.lead.phone_e164 == ""
    assert LeadEvent.objects.filter(lead=by_email.lead, kind="duplicate_intake").get().data["other_phone"]


def test_duplicate_fills_blanks_and_records_what_changed():
    lead = intake(email="sam@example.com").lead

    result = intake(email="sam@example.com", name="Sam Reyes", company="Reyes Ltd", external_id="ext-9")

    lead.refresh_from_db()
    assert (lead.name, lead.company) == ("Sam Reyes", "Reyes Ltd")
    assert lead.external_ids == {"website": "ext-9"}
    event = LeadEvent.objects.get(lead=lead, kind=LeadEvent.Kind.DUPLICATE_INTAKE)
    assert event.data["matched_on"] == "email"
    assert set(event.data["changed"]) == {"name", "company", "external_id"}
    assert result.changed["name"] == {"from": "", "to": "Sam Reyes"}


def test_duplicate_never_overwrites_what_the_owner_edited(admin_user):
    lead = intake(email="kim@example.com", name="kim", company="Old Co").lead
    lead_update_by_owner(lead=lead, changes={"name": "Kim Park"}, actor=admin_user)

    intake(email="kim@example.com", name="KIM P.", company="New Co")

    lead.refresh_from_db()
    assert lead.name == "Kim Park"  # the owner's edit stands
    assert lead.company == "Old Co"  # intake never overwrites a filled field
    assert lead.events.filter(kind=LeadEvent.Kind.ALSO_SEEN, data__value="New Co").exists()
    assert lead.owner_edited_fields == ["name"]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"first_name": "Jo", "last_name": "Ng", "email": "jo@x.example"}, ("Jo Ng", "jo@x.example", "")),
        ({"contact": {"full_name": "Lu", "phone_number": "+447911123456"}}, ("Lu", "", "+447911123456")),
        (
            {"name": "  Spaced   Out ", "emailAddress": "s@x.example", "companyName": "S Co"},
            ("Spaced Out", "s@x.example", ""),
        ),
    ],
)
def test_payload_shapes(payload, expected):
    data = parse_lead_payload(payload)
    assert (data.name, data.email_normalized, data.phone_e164) == expected


def test_too_long_field_is_refused():
    with pytest.raises(InvalidInput, match="longer than 200"):
        LeadData.build(email="a@example.com", company="x" * 201)


def test_a_national_number_is_read_in_the_region_given_else_in_the_default_one(settings):
    settings.PHONE_DEFAULT_REGION = "GB"

    assert LeadData.build(phone="020 7946 0958").phone_e164 == "+442079460958"
    assert LeadData.build(phone="020 7946 0958", phone_region="GB").phone_e164 == "+442079460958"
    assert LeadData.build(phone="(212) 555-0100", phone_region="US").phone_e164 == "+12125550100"
    with pytest.raises(InvalidInput, match="not a possible phone number"):
        LeadData.build(phone="020 7946 0958", phone_region="US")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ["a list"], "email": "a@x.example"}, "'name' must be text"),
        ({"name": "n" * 201, "email": "not an email"}, "'name' is longer than 200"),  # in field order
        ({"email": "a@x.example", "phone": "1" * 65}, "'phone' is longer than 64"),
        ({"name": "Only A Name"}, "needs an email address or a phone number"),
    ],
)
def test_build_refuses_with_the_first_problem_in_field_order(fields, message):
    with pytest.raises(InvalidInput, match=message):
        LeadData.build(**fields)


def test_build_collapses_whitespace_and_takes_numbers_as_text():
    data = LeadData.build(name="  Ann \t  Lee ", email=" ANN@x.example ", phone=2125550100, company=None, external_id=7)

    assert (data.name, data.email, data.email_normalized, data.phone, data.phone_e164, data.company) == (
        "Ann Lee",
        "ANN@x.example",
        "ann@x.example",
        "2125550100",
        "+12125550100",
        "",
    )
    assert data.external_id == "7"


def test_identifying_a_person_is_one_query_however_many_leads_share_the_phone(django_assert_num_queries):
    for i in range(3):
        lead_intake(data=LeadData.build(email=f"office{i}@acme.example", phone="+1 415 555 0199"), source="t")

    with django_assert_num_queries(1):
        identity = lead_identify(email_normalized="new@acme.example", phone_e164="+14155550199")
    assert identity.lead is None
    assert sorted(lead.email_normalized for lead in identity.shares_phone_with) == [
        "office0@acme.example",
        "office1@acme.example",
        "office2@acme.example",
    ]
    with django_assert_num_queries(1):
        found = lead_identify(email_normalized="office2@acme.example", phone_e164="+14155550199")
    assert (found.lead.email_normalized, found.matched_on) == ("office2@acme.example", "email")
    # a merged lead's email leads to its survivor
    merged = lead_intake(data=LeadData.build(email="old@acme.example"), source="t").lead
    Lead.objects.filter(pk=merged.pk).update(merged_into=Lead.objects.get(email_normalized="office0@acme.example"))
    survivor = lead_identify(email_normalized="old@acme.example", phone_e164="")
    assert (survivor.lead.email_normalized, survivor.matched_on) == ("office0@acme.example", "email")
    by_phone = lead_identify(email_normalized="", phone_e164="+14155550199")
    assert (by_phone.lead.email_normalized, by_phone.matched_on) == ("office0@acme.example", "phone")


def test_the_lead_written_by_intake_reads_back_like_one_made_by_the_orm():
    result = lead_intake(
        data=LeadData.build(name="Ann Lee", email="ann@lee.example", phone="+1 415 555 0100", external_id="x-1"),
        source="website",
    )
    lead = Lead.objects.get(pk=result.lead.pk)
    assert (lead.public_id, lead.created_at, lead.updated_at) == (
        result.lead.public_id,
        result.lead.created_at,
        result.lead.updated_at,
    )
    assert lead.external_ids == {"website": "x-1"}
    assert (lead.stage, lead.owner_edited_fields, lead.merged_into_id) == ("new", [], None)
    event = LeadEvent.objects.get(lead=lead)
    assert (event.kind, event.label, event.data["source"]) == ("created", "Created", "website")
