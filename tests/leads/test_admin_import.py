"""Importing a CSV from the Lead changelist: upload, dry-run preview, import, result, rejects."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clientsflow.models import AuditEvent
from leads.models import Lead, LeadEvent
from leads.services.intake import LeadData, lead_intake

pytestmark = pytest.mark.django_db

SEMICOLON_CSV = (
    "\ufeffNom;E-mail;Téléphone;Company;Lead Source\n"
    "Zoë Weber;zoë@exämple.de;+49 30 1234567;Weber GmbH;Trade show (Berlin)!\n"
    "Ann Lee;ann@x.example;+1 415 555 0100;;\n"
    "Nobody;;;;\n"
    "Ann Again;ANN@x.example;;Lee Inc;\n"
).encode()


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def upload(client, content: bytes = SEMICOLON_CSV):
    return client.post(
        reverse("admin:leads_lead_import"),
        {"file": SimpleUploadedFile("leads.csv", content, content_type="text/csv"), "source": "csv"},
    )


def test_the_changelist_offers_import_csv(admin_client):
    response = admin_client.get(reverse("admin:leads_lead_changelist"))
    assert reverse("admin:leads_lead_import") in response.content.decode()


def test_preview_shows_delimiter_mapping_and_counts_and_writes_nothing(admin_client):
    lead_intake(data=LeadData.build(name="Ann", email="ann@x.example"), source="website")
    before = (Lead.objects.count(), LeadEvent.objects.count(), AuditEvent.objects.count())

    response = upload(admin_client)

    page = response.content.decode()
    assert response.status_code == 200
    assert "semicolon" in page
    assert "(ignored)" in page  # "Nom" and "Téléphone" are not known column names
    assert response.context["preview"].summary.created == 1  # Zoë (no phone column mapped)
    assert response.context["preview"].summary.enriched == 1  # Ann gains a company
    assert response.context["preview"].summary.rejected == 1
    assert "A lead needs an email address or a phone number" in page
    assert (Lead.objects.count(), LeadEvent.objects.count(), AuditEvent.objects.count()) == before


def test_import_runs_and_offers_the_rejected_rows(admin_client):
    token = upload(admin_client).context["token"]

    response = admin_client.post(reverse("admin:leads_lead_import"), {"token": token, "source": "csv"})

    assert response.status_code == 200
    summary = response.context["summary"]
    assert (summary.created, summary.enriched, summary.rejected) == (2, 1, 1)  # Zoë, Ann; Ann again
    zoe = Lead.objects.get(email_normalized="zoë@exämple.de")
    assert zoe.source == "trade-show-berlin"
    rejects = admin_client.get(reverse("admin:leads_lead_import_rejects", args=[token]))
    body = b"".join(rejects.streaming_content).decode()
    assert "A lead needs an email address or a phone number" in body


def test_import_needs_the_add_lead_permission(client):
    user = User.objects.create_user("viewer", password="pw-for-tests-only", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_lead"))
    client.force_login(user)

    assert client.get(reverse("admin:leads_lead_import")).status_code == 403
    assert upload(client).status_code == 403
    assert not Lead.objects.exists()


def test_a_bad_token_is_not_found(admin_client):
    response = admin_client.post(reverse("admin:leads_lead_import"), {"token": "../../etc/passwd"})
    assert response.status_code == 404
