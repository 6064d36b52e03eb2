"""Imports started from the admin: upload checks, mapping, dry run, the background run in chunks,
resuming after a crash without importing a row twice, and one run per upload."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from clientsflow.errors import InvalidInput
from leads.models import Lead, LeadEvent, LeadImport, LeadImportReject
from leads.services import importer
from leads.services.intake import LeadData, lead_intake
from leads.services.lead_imports import (
    check_upload,
    lead_import_columns,
    lead_import_dry_run,
    lead_import_rejects_write,
    lead_import_run,
    lead_import_start,
    lead_import_upload,
    lead_imports_purge,
    lead_imports_requeue_stale,
)

pytestmark = pytest.mark.django_db

SEMICOLON = (
    "\ufeffNom;E-mail;Téléphone;Firma;Lead Source\n"
    "Zoë Weber;zoë@exämple.de;+49 30 1234567;Weber GmbH;Trade show (Berlin)!\n"
    "Ann Lee;ann@x.example;+1 415 555 0100;;\n"
    "Nobody;;;;\n"
    'Formula;=HYPERLINK("http://x");;;\n'
).encode()


@pytest.fixture
def start(django_capture_on_commit_callbacks):
    """`lead_import_start` with its after-commit task run, as the commit of a request would."""

    def call(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return lead_import_start(**kwargs)

    return call


def upload(content: bytes = SEMICOLON, name: str = "leads.csv", user=None) -> LeadImport:
    return lead_import_upload(file_name=name, content=content, source="csv", user=user)


def test_upload_detects_semicolons_a_bom_and_default_columns():
    lead_import = upload()

    columns = lead_import_columns(lead_import=lead_import)

    assert columns.delimiter == ";"
    assert columns.encoding == "utf-8-sig"
    assert columns.header[0] == "Nom"  # the BOM is not part of the first name
    assert columns.defaults == ["", "email", "", "", "source"]
    assert lead_import.status == LeadImport.Status.UPLOADED
    assert lead_import.total_rows == 4
    assert not Lead.objects.exists()


def test_a_tab_separated_windows_1252_file_from_excel_is_read(start):
    content = "Name\tEmail\tCompany\nRené Müller\trene@x.example\tCafé Zürich\n".encode("cp1252")
    lead_import = upload(content)
    columns = lead_import_columns(lead_import=lead_import)
    assert (columns.delimiter, columns.encoding) == ("\t", "cp1252")

    start(lead_import_id=lead_import.pk, mapping=columns.defaults, user=None)

    lead = Lead.objects.get()
    assert (lead.name, lead.company) == ("René Müller", "Café Zürich")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is an image, not a CSV file"),
        (b"PK\x03\x04\x14\x00\x06\x00", "is an Excel workbook or another ZIP file"),
        (b"Email\x00,\x00Name\x00\n", "is not a CSV text file"),
        (b"", "is empty"),
    ],
)
def test_files_that_are_not_csv_text_are_refused_clearly(content, message):
    with pytest.raises(InvalidInput, match=message):
        upload(content, name="leads.csv")
    assert not LeadImport.objects.exists()


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(settings):
    settings.LEAD_IMPORT_MAX_BYTES = 1_000_000
    with pytest.raises(InvalidInput, match=r"big.csv is 2.5 MB; files up to 1 MB can be imported. Split it"):
        check_upload(file_name="big.csv", size=2_500_000, head=b"Email\n")


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (["name", "", "", "company", "source"], "email address or the phone number"),
        (["name", "email", "email", "", ""], "both fill email"),
    ],
)
def test_a_mapping_without_email_or_phone_or_with_a_field_twice_is_refused(mapping, message):
    lead_import = upload()
    with pytest.raises(InvalidInput, match=message):
        lead_import_dry_run(lead_import=lead_import, mapping=mapping)
    with pytest.raises(InvalidInput, match=message):
        lead_import_start(lead_import_id=lead_import.pk, mapping=mapping, user=None)
    lead_import.refresh_from_db()
    assert lead_import.status == LeadImport.Status.UPLOADED


def test_dry_run_follows_the_chosen_mapping_gives_each_row_its_outcome_and_writes_nothing():
    lead_intake(data=LeadData.build(name="Ann", email="ann@x.example"), source="website")
    lead_import = upload()
    before = (Lead.objects.count(), LeadEvent.objects.count())

    by_names = lead_import_dry_run(lead_import=lead_import, mapping=["", "email", "", "", "source"])
    chosen = lead_import_dry_run(lead_import=lead_import, mapping=["name", "email", "phone", "company", "source"])

    assert (by_names.summary.created, by_names.summary.unchanged) == (1, 1)  # Ann has nothing new
    assert (chosen.summary.created, chosen.summary.enriched, chosen.summary.rejected) == (1, 1, 2)
    outcomes = [(row.number, row.outcome) for row in chosen.rows]
    assert outcomes == [(2, "created"), (3, "enriched"), (4, "rejected"), (5, "rejected")]
    assert chosen.rows[0].values["email"] == "zoë@exämple.de"
    assert "email address or a phone number" in chosen.rows[2].reason
    assert (Lead.objects.count(), LeadEvent.objects.count()) == before


def test_the_run_imports_with_idn_email_cleaned_source_and_keeps_rejects_with_reasons(start):
    owner = User.objects.create_user("owner", is_staff=True)
    lead_import = upload(user=owner)

    _, did_start = start(
        lead_import_id=lead_import.pk, mapping=["name", "email", "phone", "company", "source"], user=owner
    )

    assert did_start
    done = LeadImport.objects.get(pk=lead_import.pk)  # tasks run in-process in tests, as embedded
    assert done.status == LeadImport.Status.DONE
    assert (done.created_count, done.enriched_count, done.rejected_count) == (2, 0, 2)
    assert done.rows_done == done.total_rows == 4
    assert done.content == b""  # the file is not kept once imported
    assert done.started_by == owner
    zoe = Lead.objects.get(email_normalized="zoë@exämple.de")
    assert (zoe.source, zoe.phone_e164, zoe.company) == ("trade-show-berlin", "+49301234567", "Weber GmbH")
    assert list(done.rejects.values_list("row_number", flat=True)) == [4, 5]

    out = io.StringIO()
    lead_import_rejects_write(lead_import=done, handle=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "row,reason,Nom,E-mail,Téléphone,Firma,Lead Source"
    assert lines[2].startswith("5,")
    assert "'=HYPERLINK" in lines[2]  # a formula cell is defused, not echoed live


def test_a_file_uploaded_twice_creates_nothing_the_second_time(start):
    mapping = ["name", "email", "phone", "company", "source"]
    first = upload()
    start(lead_import_id=first.pk, mapping=mapping, user=None)
    leads_after_first = Lead.objects.count()
    second = upload()

    start(lead_import_id=second.pk, mapping=mapping, user=None)

    second.refresh_from_db()
    assert second.status == LeadImport.Status.DONE
    assert second.created_count == 0
    assert second.unchanged_count == 2
    assert Lead.objects.count() == leads_after_first


def test_starting_twice_starts_one_run(start):
    lead_import = upload()
    mapping = ["name", "email", "phone", "company", "source"]

    _, first = start(lead_import_id=lead_import.pk, mapping=mapping, user=None)
    again, second = start(lead_import_id=lead_import.pk, mapping=["", "email", "", "", ""], user=None)

    assert (first, second) == (True, False)
    assert again.mapping == mapping
    assert Lead.objects.count() == 2


class Crash(BaseException):
    """A worker killed mid-import: no handler runs, the row stays `running`."""


def _numbered_csv(count: int) -> bytes:
    return ("Email,Name\n" + "".join(f"p{n}@x.example,Person {n}\n" for n in range(count)) + "bad,\n").encode()


def test_a_crashed_run_resumes_after_its_last_chunk_and_imports_no_row_twice(monkeypatch, start):
    monkeypatch.setattr(importer, "CHUNK_SIZE", 3)
    lead_import = upload(_numbered_csv(10))
    real_chunk = importer._import_chunk
    calls = {"n": 0}

    def crash_on_third_chunk(rows, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash
        return real_chunk(rows, *args, **kwargs)

    monkeypatch.setattr(importer, "_import_chunk", crash_on_third_chunk)
    with pytest.raises(Crash):
        start(lead_import_id=lead_import.pk, mapping=["email", "name"], user=None)

    stalled = LeadImport.objects.get(pk=lead_import.pk)
    assert stalled.status == LeadImport.Status.RUNNING
    assert (stalled.last_row, stalled.rows_done, stalled.created_count) == (7, 6, 6)  # two chunks committed
    assert Lead.objects.count() == 6
    # A second worker does not take over a run whose heartbeat is fresh.
    assert lead_import_run(lead_import_id=lead_import.pk).status == LeadImport.Status.RUNNING
    assert lead_imports_requeue_stale() == 0

    monkeypatch.setattr(importer, "_import_chunk", real_chunk)
    LeadImport.objects.filter(pk=lead_import.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert lead_imports_requeue_stale() == 1  # the dispatcher job; the task runs in-process here

    done = LeadImport.objects.get(pk=lead_import.pk)
    assert done.status == LeadImport.Status.DONE
    assert (done.created_count, done.rejected_count, done.rows_done) == (10, 1, 11)
    assert Lead.objects.count() == 10
    assert LeadEvent.objects.filter(kind=LeadEvent.Kind.CREATED).count() == 10
    assert list(LeadImportReject.objects.values_list("row_number", flat=True)) == [12]


def test_a_failed_run_is_shown_with_its_reason_and_goes_on_from_where_it_stopped(monkeypatch, start):
    monkeypatch.setattr(importer, "CHUNK_SIZE", 4)
    lead_import = upload(_numbered_csv(10))
    real_chunk = importer._import_chunk
    calls = {"n": 0}

    def fail_on_second_chunk(rows, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("database went away")
        return real_chunk(rows, *args, **kwargs)

    monkeypatch.setattr(importer, "_import_chunk", fail_on_second_chunk)
    start(lead_import_id=lead_import.pk, mapping=["email", "name"], user=None)

    failed = LeadImport.objects.get(pk=lead_import.pk)
    assert failed.status == LeadImport.Status.FAILED
    assert "The import stopped (RuntimeError)" in failed.error
    assert "database went away" not in failed.error  # no internals on the page
    assert Lead.objects.count() == 4

    _, resumed = start(lead_import_id=lead_import.pk, mapping=[], user=None)

    done = LeadImport.objects.get(pk=lead_import.pk)
    assert resumed and done.status == LeadImport.Status.DONE
    assert (done.created_count, done.rejected_count) == (10, 1)
    assert Lead.objects.count() == 10


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_staff_clicking_import_at_once_start_one_run(monkeypatch):
    lead_import = upload(_numbered_csv(5))
    queued: list[int] = []
    monkeypatch.setattr(
        "leads.services.lead_imports.lead_import_run_task.delay_on_commit", lambda pk: queued.append(pk)
    )
    barrier = threading.Barrier(6)
    results: list[bool] = []
    errors: list[BaseException] = []

    def click() -> None:
        try:
            barrier.wait()
            results.append(lead_import_start(lead_import_id=lead_import.pk, mapping=["email", "name"], user=None)[1])
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(results) == [False] * 5 + [True]
    assert queued == [lead_import.pk]
    assert LeadImport.objects.get(pk=lead_import.pk).status == LeadImport.Status.QUEUED


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_workers_running_one_import_at_once_import_each_row_once(monkeypatch):
    monkeypatch.setattr(importer, "CHUNK_SIZE", 2)
    lead_import = upload(_numbered_csv(9))
    LeadImport.objects.filter(pk=lead_import.pk).update(status=LeadImport.Status.QUEUED, mapping=["email", "name"])
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            lead_import_run(lead_import_id=lead_import.pk)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    done = LeadImport.objects.get(pk=lead_import.pk)
    assert done.status == LeadImport.Status.DONE
    assert (done.created_count, done.rejected_count) == (9, 1)
    assert LeadEvent.objects.filter(kind=LeadEvent.Kind.CREATED).count() == 9


def test_a_queued_run_whose_task_was_lost_is_queued_again_only_once_stale(monkeypatch):
    lead_import = upload(_numbered_csv(2))
    monkeypatch.setattr("leads.services.lead_imports.lead_import_run_task.delay_on_commit", lambda pk: None)
    lead_import_start(lead_import_id=lead_import.pk, mapping=["email", "name"], user=None)  # the task is lost
    assert lead_imports_requeue_stale() == 0  # just queued: its task may still come

    LeadImport.objects.filter(pk=lead_import.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert lead_imports_requeue_stale() == 1

    assert LeadImport.objects.get(pk=lead_import.pk).status == LeadImport.Status.DONE
    assert Lead.objects.count() == 2


def test_old_uploads_files_and_rejected_rows_are_forgotten_but_the_record_stays(start):
    abandoned = upload()
    recent = upload()
    imported = upload()
    start(lead_import_id=imported.pk, mapping=["name", "email", "phone", "company", "source"], user=None)
    failed = upload()
    LeadImport.objects.filter(pk=failed.pk).update(status=LeadImport.Status.FAILED)
    long_ago = timezone.now() - timedelta(days=100)
    LeadImport.objects.filter(pk__in=[abandoned.pk, imported.pk, failed.pk]).update(created_at=long_ago)

    result = lead_imports_purge(older_than=timedelta(days=90))

    assert result == {"uploads_deleted": 1, "rejects_deleted": 2, "files_emptied": 1}
    assert set(LeadImport.objects.values_list("pk", flat=True)) == {recent.pk, imported.pk, failed.pk}
    assert LeadImport.objects.get(pk=imported.pk).created_count == 2
    assert bytes(LeadImport.objects.get(pk=failed.pk).content) == b""
    assert bytes(LeadImport.objects.get(pk=recent.pk).content) == SEMICOLON
