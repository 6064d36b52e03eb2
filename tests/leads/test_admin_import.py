"""Importing a CSV from the Lead changelist: upload, choose the columns, dry run, import in the
background, progress, rejects; who may do it; what a confused or hostile upload gets."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clientsflow.models import AuditEvent
from leads.models import Lead, LeadEvent, LeadImport
from leads.services.intake import LeadData, lead_intake

pytestmark = pytest.mark.django_db

SEMICOLON_CSV = (
    "\ufeffNom;E-mail;Téléphone;Company;Lead Source\n"
    "Zoë Weber;zoë@exämple.de;+49 30 1234567;Weber GmbH;Trade show (Berlin)!\n"
    "Ann Lee;ann@x.example;+1 415 555 0100;;\n"
    "Nobody;;;;\n"
    "Ann Again;ANN@x.example;;Lee Inc;\n"
    "Formula;=cmd|' /C calc'!A0;;;\n"
).encode()
ALL_COLUMNS = {
    "column_0": "name",
    "column_1": "email",
    "column_2": "phone",
    "column_3": "company",
    "column_4": "source",
}


def upload(client, content: bytes = SEMICOLON_CSV, name: str = "leads.csv"):
    return client.post(
        reverse("admin:leads_lead_import"),
        {"file": SimpleUploadedFile(name, content, content_type="text/csv"), "source": "csv"},
    )


def uploaded(client, content: bytes = SEMICOLON_CSV) -> LeadImport:
    response = upload(client, content)
    assert response.status_code == 302, response.content.decode()[:2000]
    return LeadImport.objects.latest("pk")


def queued_tasks(callbacks) -> list:
    return [c for c in callbacks if "lead_import_run_task" in repr(c)]


def mapping_url(lead_import: LeadImport) -> str:
    return reverse("admin:leads_lead_import_mapping", args=[lead_import.pk])


def progress_url(lead_import: LeadImport) -> str:
    return reverse("admin:leads_lead_import_progress", args=[lead_import.pk])


def test_the_changelist_offers_import_csv(admin_client):
    response = admin_client.get(reverse("admin:leads_lead_changelist"))
    assert reverse("admin:leads_lead_import") in response.content.decode()


def test_upload_leads_to_the_mapping_with_detected_columns_and_a_dry_run_that_writes_nothing(admin_client):
    lead_intake(data=LeadData.build(name="Ann", email="ann@x.example"), source="website")
    before = (Lead.objects.count(), LeadEvent.objects.count(), AuditEvent.objects.count())
    lead_import = uploaded(admin_client)

    response = admin_client.get(mapping_url(lead_import))

    page = response.content.decode()
    assert response.status_code == 200
    assert "semicolon" in page
    form = response.context["form"]
    assert form.initial_mapping() == ["", "email", "", "company", "source"]  # "Nom", "Téléphone" unknown
    assert '<option value="email" selected>' in page
    dry_run = response.context["dry_run"]
    assert (dry_run.summary.created, dry_run.summary.enriched, dry_run.summary.rejected) == (1, 1, 2)
    assert [row["outcome"] for row in response.context["preview_rows"]] == [
        "created",  # Zoë
        "unchanged",  # Ann: no company in her row, nothing new
        "rejected",  # no email, no phone
        "enriched",  # Ann again, with a company
        "rejected",  # not an email
    ]
    assert "A lead needs an email address or a phone number" in page
    assert (Lead.objects.count(), LeadEvent.objects.count(), AuditEvent.objects.count()) == before


def test_changing_the_mapping_recomputes_the_dry_run(admin_client):
    lead_import = uploaded(admin_client)

    response = admin_client.post(mapping_url(lead_import), {**ALL_COLUMNS, "action": "preview"})

    assert response.status_code == 200
    rows = response.context["preview_rows"]
    assert response.context["preview_fields"] == ["Name", "Email", "Phone", "Company", "Source"]
    assert rows[0]["cells"][:3] == ["Zoë Weber", "zoë@exämple.de", "+49 30 1234567"]
    assert response.context["dry_run"].summary.created == 2  # Zoë and Ann (Ann again enriches her)
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"column_0": "name", "column_3": "company"}, "Choose the column that holds the email address or the phone"),
        ({"column_1": "email", "column_2": "email"}, "both fill email"),
    ],
)
def test_a_mapping_without_email_or_phone_or_with_a_field_twice_is_a_clear_error(admin_client, mapping, message):
    lead_import = uploaded(admin_client)

    response = admin_client.post(mapping_url(lead_import), {**mapping, "action": "import"})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["dry_run"] is None
    lead_import.refresh_from_db()
    assert lead_import.status == LeadImport.Status.UPLOADED
    assert not Lead.objects.exists()


def test_import_runs_in_the_background_and_the_progress_page_shows_the_result(
    admin_client, django_capture_on_commit_callbacks
):
    lead_import = uploaded(admin_client)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(mapping_url(lead_import), {**ALL_COLUMNS, "action": "import"})

    assert len(queued_tasks(callbacks)) == 1  # the task, queued after the commit
    assert response.status_code == 302
    assert response["Location"] == progress_url(lead_import)
    page = admin_client.get(progress_url(lead_import))
    html = page.content.decode()
    assert page.context["lead_import"].status == LeadImport.Status.DONE
    assert '<progress id="import-bar" max="5" value="5">' in html
    assert "hx-trigger" not in html  # finished: nothing polls any more
    assert 'http-equiv="refresh"' not in html
    assert reverse("admin:leads_lead_changelist") in html
    zoe = Lead.objects.get(email_normalized="zoë@exämple.de")
    assert zoe.source == "trade-show-berlin"
    assert Lead.objects.count() == 2

    rejects = admin_client.get(reverse("admin:leads_lead_import_rejects", args=[lead_import.pk]))
    body = rejects.content.decode("utf-8-sig")
    assert rejects["Content-Type"].startswith("text/csv")
    assert body.splitlines()[0] == "row,reason,Nom,E-mail,Téléphone,Company,Lead Source"
    assert "A lead needs an email address or a phone number" in body
    assert ",'=cmd\\|' /C calc'!A0," in body  # the formula cell is defused


def test_clicking_import_twice_starts_one_run(admin_client, django_capture_on_commit_callbacks):
    lead_import = uploaded(admin_client)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = admin_client.post(mapping_url(lead_import), {**ALL_COLUMNS, "action": "import"})
        second = admin_client.post(mapping_url(lead_import), {**ALL_COLUMNS, "action": "import"})

    assert first["Location"] == second["Location"] == progress_url(lead_import)
    assert len(queued_tasks(callbacks)) == 1
    assert LeadImport.objects.get().created_count == 2


def test_the_progress_fragment_polls_while_the_run_waits_and_the_page_refreshes_without_js(admin_client):
    lead_import = uploaded(admin_client)
    LeadImport.objects.filter(pk=lead_import.pk).update(
        status=LeadImport.Status.RUNNING, total_rows=5, rows_done=2, created_count=1
    )

    fragment = admin_client.get(progress_url(lead_import), headers={"HX-Request": "true"})
    page = admin_client.get(progress_url(lead_import))

    html = fragment.content.decode()
    assert not html.lstrip().startswith("<!DOCTYPE")
    assert 'hx-trigger="every 1s"' in html and 'hx-swap="outerHTML"' in html
    assert '<progress id="import-bar" max="5" value="2">40%</progress>' in html
    assert "2 of about 5 rows (40%)" in html
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page.content.decode()


def test_the_import_runs_are_listed_read_only(admin_client, django_capture_on_commit_callbacks):
    lead_import = uploaded(admin_client)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(mapping_url(lead_import), {**ALL_COLUMNS, "action": "import"})

    listing = admin_client.get(reverse("admin:leads_leadimport_changelist"))
    detail = admin_client.get(reverse("admin:leads_leadimport_change", args=[lead_import.pk]))

    html = listing.content.decode()
    assert "leads.csv" in html and "Done" in html and "5 of 5" in html
    assert 'name="file_name"' not in detail.content.decode()  # read-only: no inputs
    assert "E-mail → Email; Téléphone → Phone" in detail.content.decode()
    assert admin_client.get(reverse("admin:leads_leadimport_add")).status_code == 403


def test_an_upload_over_the_size_limit_is_refused_with_a_clear_message(admin_client, settings):
    settings.LEAD_IMPORT_MAX_BYTES = 1000

    response = upload(admin_client, b"Email\n" + b"a@x.example\n" * 250)

    assert response.status_code == 200
    assert "leads.csv is 3 KB; files up to 1 KB can be imported. Split it" in response.content.decode()
    assert not LeadImport.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00rest-of-a-workbook", "is an Excel workbook or another ZIP file, not a CSV file"),
        (b"\x00\x01\x02binary\x00", "is not a CSV text file"),
    ],
)
def test_a_file_that_is_not_csv_is_refused_with_a_clear_message(admin_client, content, message):
    response = upload(admin_client, content)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not LeadImport.objects.exists()


def test_a_windows_1252_file_from_excel_is_read(admin_client):
    content = "Name;Email\nRené Müller;rene@x.example\n".encode("cp1252")
    lead_import = uploaded(admin_client, content)

    response = admin_client.get(mapping_url(lead_import))

    assert response.context["encoding"] == "cp1252"
    assert response.context["preview_rows"][0]["cells"] == ["René Müller", "rene@x.example"]


def test_every_step_needs_the_add_lead_permission(admin_client, client):
    lead_import = uploaded(admin_client)
    user = User.objects.create_user("viewer", password="pw-for-tests-only", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_lead"))
    client.force_login(user)

    urls = [
        reverse("admin:leads_lead_import"),
        mapping_url(lead_import),
        progress_url(lead_import),
        reverse("admin:leads_lead_import_rejects", args=[lead_import.pk]),
    ]
    assert [client.get(url).status_code for url in urls] == [403] * 4
    assert [client.post(url, {**ALL_COLUMNS, "action": "import"}).status_code for url in urls] == [403] * 4
    assert upload(client).status_code == 403
    lead_import.refresh_from_db()
    assert lead_import.status == LeadImport.Status.UPLOADED
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/admin/leads/lead/import-csv/../../../etc/passwd/",
        "/admin/leads/lead/import-csv/..%2F..%2Fetc%2Fpasswd/",
        "/admin/leads/lead/import-csv/%2E%2E/rejects.csv",
        "/admin/leads/lead/import-csv/999999/rejects.csv",
        "/admin/leads/lead/import-csv/999999/",
    ],
)
def test_paths_that_are_not_an_upload_of_ours_read_nothing(admin_client, path):
    uploaded(admin_client)
    response = admin_client.get(path, follow=True)
    # Never one of the import's views (their id is an integer, never a path): a 404, or the
    # admin's own answer for a lead id that does not exist (back to the admin index).
    assert response.status_code in (200, 404)
    if response.status_code == 200:
        assert response.request["PATH_INFO"] == reverse("admin:index")
    assert b"root:" not in response.content
