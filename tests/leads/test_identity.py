"""One person stays one person: a shared phone never merges two emails, and unauthenticated
input (webhooks, CSV, the booking form) only fills empty fields. Through every intake path."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from bookings.selectors import slots_for
from clientsflow.signatures import hmac_sha256_hex
from leads.models import Lead, LeadEvent, PossibleDuplicate
from leads.services.importer import lead_import_csv
from leads.services.intake import LeadData, lead_intake
from leads.services.owner_edits import lead_update_by_owner
from tests.bookings.factories import EventTypeFactory

pytestmark = pytest.mark.django_db

SECRET = "test-lead-webhook-secret-0123456789"
JANE = {"name": "Jane Doe", "email": "jane@acme.example", "company": "ACME", "phone": "+1 415 555 0134"}
CAROL = {"name": "Carol King", "email": "carol@carolco.example", "company": "CarolCo", "phone": "(415) 555-0134"}


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.LEAD_WEBHOOK_SECRET = SECRET
    settings.GHL_PUBLIC_KEY = ""


@pytest.fixture
def webhook(client, django_capture_on_commit_callbacks):
    def _post(payload: dict, event_id: str) -> None:
        body = json.dumps({"id": event_id, **payload}).encode()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/webhooks/leads/website/",
                data=body,
                content_type="application/json",
                HTTP_X_SIGNATURE="sha256=" + hmac_sha256_hex(SECRET, body),
            )
        assert response.status_code == 200

    return _post


def csv_import(tmp_path: Path, rows: list[dict], name: str = "leads.csv") -> None:
    lines = ["Name,Email,Phone,Company"] + [f"{r['name']},{r['email']},{r['phone']},{r['company']}" for r in rows]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    lead_import_csv(path=path)


def book(client: Client, event_type, **fields) -> None:
    slot = slots_for(event_type=event_type)[0]
    zone = "America/Los_Angeles"
    data = {
        "start": slot.start.astimezone(ZoneInfo(zone)).isoformat(),
        "timezone": zone,
        "note": "",
        "website": "",
        "phone": "",
        **fields,
    }
    response = client.post(f"/book/{event_type.slug}/", data)
    assert response.status_code == 302, response.content.decode()[:500]


def assert_two_people_and_a_possible_duplicate() -> None:
    jane = Lead.objects.get(email_normalized="jane@acme.example")
    carol = Lead.objects.get(email_normalized="carol@carolco.example")
    assert (jane.name, jane.company) == ("Jane Doe", "ACME")
    assert (carol.name, carol.company, carol.phone_e164) == ("Carol King", "CarolCo", "+14155550134")
    pair = PossibleDuplicate.objects.get()
    assert {pair.lead_a_id, pair.lead_b_id} == {jane.pk, carol.pk}
    assert (pair.reason, pair.status) == (PossibleDuplicate.Reason.SAME_PHONE, PossibleDuplicate.Status.OPEN)


# --- a phone match with another email is another person -------------------------------------


def test_service_a_shared_phone_with_two_emails_makes_two_leads_and_a_possible_duplicate():
    lead_intake(data=LeadData.build(**JANE), source="website")

    result = lead_intake(data=LeadData.build(**CAROL), source="website")

    assert result.created
    assert_two_people_and_a_possible_duplicate()


def test_webhook_a_shared_phone_with_two_emails_makes_two_leads(webhook):
    webhook(JANE, "form-1")
    webhook(CAROL, "form-2")

    assert_two_people_and_a_possible_duplicate()


def test_csv_a_shared_phone_with_two_emails_makes_two_leads(tmp_path):
    csv_import(tmp_path, [JANE], "first.csv")
    csv_import(tmp_path, [CAROL], "second.csv")

    assert_two_people_and_a_possible_duplicate()


def test_csv_two_rows_of_one_file_sharing_a_phone_are_two_leads_and_rerunning_changes_nothing(tmp_path):
    csv_import(tmp_path, [JANE, CAROL])
    csv_import(tmp_path, [JANE, CAROL])

    assert_two_people_and_a_possible_duplicate()


def test_booking_form_a_shared_phone_with_another_email_makes_another_lead(client):
    event_type = EventTypeFactory(slug="intro")
    lead_intake(data=LeadData.build(**JANE), source="website")

    book(client, event_type, name=CAROL["name"], email=CAROL["email"], phone=CAROL["phone"])

    jane = Lead.objects.get(email_normalized="jane@acme.example")
    carol = Lead.objects.get(email_normalized="carol@carolco.example")
    assert jane.name == "Jane Doe"
    assert carol.bookings.count() == 1 and jane.bookings.count() == 0
    assert PossibleDuplicate.objects.filter(status="open").count() == 1


def test_a_phone_match_without_a_conflicting_email_is_still_the_same_person():
    jane = lead_intake(data=LeadData.build(name="Jane", phone=JANE["phone"]), source="website").lead

    again = lead_intake(data=LeadData.build(email="jane@acme.example", phone="415.555.0134"), source="website")

    assert not again.created and again.lead.pk == jane.pk
    jane.refresh_from_db()
    assert jane.email_normalized == "jane@acme.example"  # an empty field is filled
    assert not PossibleDuplicate.objects.exists()


def test_the_possible_duplicate_is_recorded_once_per_pair(tmp_path):
    lead_intake(data=LeadData.build(**JANE), source="website")
    lead_intake(data=LeadData.build(**CAROL), source="website")
    lead_intake(data=LeadData.build(**CAROL), source="webinar")

    assert PossibleDuplicate.objects.count() == 1


# --- anonymous input only fills empty fields -----------------------------------------------


def _also_seen(lead: Lead) -> dict[str, str]:
    return {e.data["field"]: e.data["value"] for e in LeadEvent.objects.filter(lead=lead, kind="also_seen")}


def test_service_a_differing_name_is_noted_as_also_seen_never_applied():
    lead = lead_intake(data=LeadData.build(**JANE), source="website").lead

    lead_intake(data=LeadData.build(name="J. Doe", email="JANE@acme.example", company="Acme Holdings"), source="ghl")

    lead.refresh_from_db()
    assert (lead.name, lead.company) == ("Jane Doe", "ACME")
    assert _also_seen(lead) == {"name": "J. Doe", "company": "Acme Holdings"}
    event = LeadEvent.objects.filter(lead=lead, kind="also_seen").first()
    assert event.data["source"] == "ghl"
    assert "J. Doe" in event.summary or "Acme Holdings" in event.summary


def test_webhook_never_renames_an_existing_lead(webhook):
    webhook(JANE, "form-1")
    webhook({"name": "Somebody Else", "email": "jane@acme.example"}, "form-2")

    lead = Lead.objects.get()
    assert lead.name == "Jane Doe"
    assert _also_seen(lead) == {"name": "Somebody Else"}


def test_csv_never_renames_an_existing_lead_and_a_rerun_notes_it_once(tmp_path):
    lead_intake(data=LeadData.build(**JANE), source="website")
    other = {**JANE, "name": "Janet Doe", "company": "Other Co"}
    csv_import(tmp_path, [other])
    csv_import(tmp_path, [other], "again.csv")

    lead = Lead.objects.get()
    assert (lead.name, lead.company) == ("Jane Doe", "ACME")
    assert LeadEvent.objects.filter(lead=lead, kind="also_seen").count() == 2  # name and company, once each


def test_booking_form_with_an_existing_email_and_another_name_does_not_rename_the_lead(client):
    event_type = EventTypeFactory(slug="intro")
    lead = lead_intake(data=LeadData.build(**JANE), source="website").lead

    book(client, event_type, name="Mallory Intruder", email="jane@acme.example")

    lead.refresh_from_db()
    assert lead.name == "Jane Doe"
    assert lead.bookings.count() == 1
    assert _also_seen(lead) == {"name": "Mallory Intruder"}


def test_only_staff_edits_change_a_filled_field(admin_user):
    lead = lead_intake(data=LeadData.build(**JANE), source="website").lead

    lead_update_by_owner(lead=lead, changes={"name": "Jane Q. Doe"}, actor=admin_user)

    lead.refresh_from_db()
    assert lead.name == "Jane Q. Doe"
