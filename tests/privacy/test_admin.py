"""The Lead list's privacy actions and the admin pages behind them."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import CommandError, call_command

from clientsflow.models import AuditEvent
from leads.models import Lead
from privacy.models import Erasure
from tests.leads.factories import LeadFactory, staff_user
from tests.privacy.conftest import EMAIL, NAME, SIGNED_HTML

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/leads/lead/"


def _act(client, action: str, *pks: int):  # type: ignore[no-untyped-def]
    return client.post(CHANGELIST, {"action": action, ACTION_CHECKBOX_NAME: [str(pk) for pk in pks]})


def test_export_selected_downloads_only_the_selected_leads(client):  # type: ignore[no-untyped-def]
    picked = [LeadFactory(name="=1+1"), LeadFactory(name="Bea")]
    LeadFactory(name="Not picked")
    client.force_login(staff_user("viewer", role="Viewer"))

    redirect = _act(client, "export_selected", *(lead.pk for lead in picked))
    response = client.get(redirect["Location"])

    raw = b"".join(response.streaming_content).decode("utf-8")
    assert raw.startswith("\ufeff")
    names = sorted(row[1] for row in list(csv.reader(io.StringIO(raw[1:])))[1:])
    assert names == ["'=1+1", "Bea"]


def test_person_export_is_a_zip_of_everything(client, person):  # type: ignore[no-untyped-def]
    client.force_login(staff_user("owner", role="Owner"))
    redirect = _act(client, "export_person", person.lead.pk)
    response = client.get(redirect["Location"])

    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        document = json.loads(archive.read("person.json"))
        assert archive.read(f"attachments/signed-proposal-{person.proposal.pk}.html").decode() == SIGNED_HTML
        assert NAME in archive.read(f"attachments/transcript-{person.call.pk}.txt").decode()
    assert document["contact"][0]["email"] == EMAIL
    for label in ("bookings.Booking", "calls.Call", "outreach.InboundReply", "billing.Signature", "billing.Payment"):
        assert document["records"][label], label
    assert document["records"]["leads.LeadEvent"]  # the timeline
    assert [c["to_stage"] for c in document["records"]["leads.StageChange"]][-1] == "contacted"  # stage history
    assert document["records"]["outreach.OutboundMessage"][0]["to_email"] == EMAIL  # messages to them
    assert document["records"]["outreach.InboundReply"][0]["body"] == "Yes, let's talk. Grace"
    assert document["records"]["billing.Proposal"][0]["id"] == person.proposal.pk
    assert document["records"]["calls.Call"][0]["transcript_text"].startswith(NAME)
    assert document["attachments"] == [
        f"attachments/signed-proposal-{person.proposal.pk}.html",
        f"attachments/transcript-{person.call.pk}.txt",
    ]
    assert {(item["system"], item["id"]) for item in document["outside_systems"]} >= {
        ("Notion", person.call.notion_page_id),
        ("Fireflies", "ff-grace-1"),
        ("Google Calendar", "gcalevent0001"),
        ("Stripe", "cs_test_grace"),
        ("Stripe", "pi_test_grace"),
        ("Stripe", "cus_test_grace"),
    }
    assert any(entry["details"].get("about") == NAME for entry in document["audit_entries"])
    assert document["webhook_events"][0]["event_id"] == "evt-grace-1"


def test_erase_needs_the_preview_and_the_typed_email(client, person, settings):  # type: ignore[no-untyped-def]
    settings.NOTION_TOKEN = ""
    settings.GOOGLE_SERVICE_ACCOUNT_FILE = ""
    client.force_login(staff_user("owner", role="Owner"))
    page = client.get(_act(client, "erase_person", person.lead.pk)["Location"])
    assert page.status_code == 200
    assert "This will remove" in page.content.decode() and "Notion" in page.content.decode()
    assert "Uploaded CSV files not yet fully imported that name them: 1" in page.content.decode()
    url = page.wsgi_request.path

    wrong = client.post(url, {"confirmation": "nope"})
    assert wrong.status_code == 400
    assert Lead.objects.get(pk=person.lead.pk).email == EMAIL

    done = client.post(url, {"confirmation": EMAIL}, follow=True)
    assert Lead.objects.get(pk=person.lead.pk).email == ""
    body = done.content.decode()
    assert "Could not reach Notion" in body
    erasure = Erasure.objects.get()
    assert AuditEvent.objects.get(verb="person.erased").actor_user.username == "owner"
    assert erasure.erased_by.username == "owner"


def test_erase_needs_change_and_delete_permissions(client, person):  # type: ignore[no-untyped-def]
    client.force_login(staff_user("assistant", role="Assistant"))
    response = client.get(f"/admin/privacy/erasure/person/{person.lead.pk}/erase/")
    assert response.status_code == 403
    response = client.post(f"/admin/privacy/erasure/person/{person.lead.pk}/erase/", {"confirmation": EMAIL})
    assert response.status_code == 403
    assert Lead.objects.get(pk=person.lead.pk).email == EMAIL


def test_the_export_command_writes_the_same_zip(person, tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "grace.zip"
    call_command("person_export", EMAIL.upper(), "--to", str(path))

    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        document = json.loads(archive.read("person.json"))
    assert names == {
        "person.json",
        f"attachments/signed-proposal-{person.proposal.pk}.html",
        f"attachments/transcript-{person.call.pk}.txt",
    }
    assert document["lead_public_id"] == str(person.lead.public_id)
    assert {"system": "Stripe", "kind": "customer id", "id": "cus_test_grace"} in document["outside_systems"]
    # The other lead is another person: not in her file.
    assert all(row["id"] != person.other.pk for row in document["contact"])
    with pytest.raises(CommandError, match="No lead"):
        call_command("person_export", "nobody@example.com", "--to", str(tmp_path / "x.zip"))
