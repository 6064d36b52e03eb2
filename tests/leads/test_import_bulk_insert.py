"""The import's bulk insert stands the per-row insert triggers aside and counts and indexes its
leads at once (`leads.db_triggers.lead_bulk_insert`): the board's counts and the search index end
as the triggers would have left them, and every other write is still counted and indexed.
Run with DATABASE_URL for PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import IntegrityError, connection

from clientsflow.prepared import insert_many
from leads.db_triggers import SEARCH_TABLE_SQLITE, lead_bulk_insert
from leads.models import Lead
from leads.selectors import lead_counts, lead_search
from leads.services import importer
from leads.services.intake import LeadData, lead_intake
from tests.leads.test_counters import _group_by

pytestmark = pytest.mark.django_db

PEOPLE = (
    "Name,Email,Phone,Company,Source\n"
    "John Smith,john.smith@acme.test,+44 7700 900001,Acme,\n"
    "Jane Smithers,jane@smithers.test,+44 7700 900002,Smithers & Co,referral\n"
    "Johnny Walker,jw@walker.test,+44 7700 900003,Walker Ltd,\n"
    "John S,JOHN.SMITH@acme.test,,,\n"  # John again: no new lead
    "Mary Jones,mary@jones.test,+1 555 000 1111,Jones Bakery,referral\n"
    "Ann Blacksmith,ann@forge.test,,Forge,\n"
    "Peter Pan,,+1 212 555 0122,,\n"
)


def _search_index_matches_the_table() -> None:
    if connection.vendor == "sqlite":
        # FTS5 compares an external-content index with its table and raises on any difference.
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {SEARCH_TABLE_SQLITE} ({SEARCH_TABLE_SQLITE}) VALUES ('integrity-check')")  # noqa: S608


@pytest.mark.parametrize("chunk_size", [1000, 2])
def test_imported_leads_are_counted_and_searchable_as_one_by_one_ones(tmp_path: Path, monkeypatch, chunk_size):
    monkeypatch.setattr(importer, "CHUNK_SIZE", chunk_size)
    lead_intake(data=LeadData.build(name="Earlier Lead", email="earlier@x.test"), source="website")
    path = tmp_path / "people.csv"
    path.write_text(PEOPLE, encoding="utf-8")

    summary = importer.lead_import_csv(path=path)

    assert (summary.created, summary.enriched) == (6, 1)  # John again is noted on his lead
    assert lead_counts() == _group_by()
    assert lead_counts()[("new", "csv", True)] == 4
    assert lead_counts()[("new", "referral", True)] == 2
    _search_index_matches_the_table()
    assert [lead.name for lead in lead_search("smit")] == ["John Smith", "Jane Smithers", "Ann Blacksmith"]
    assert [lead.name for lead in lead_search("bakery")] == ["Mary Jones"]
    assert [lead.name for lead in lead_search("2125550122")] == ["Peter Pan"]

    # The switch is off again: a lead arriving after the import is counted and indexed by the triggers.
    lead_intake(data=LeadData.build(name="Zed Later", email="zed@later.test"), source="csv")
    assert lead_counts()[("new", "csv", True)] == 5
    assert lead_counts() == _group_by()
    assert [lead.name for lead in lead_search("later")] == ["Zed Later"]
    _search_index_matches_the_table()


def test_a_failed_bulk_insert_leaves_the_triggers_on():
    taken = lead_intake(data=LeadData.build(name="Taken", email="taken@x.test"), source="website").lead
    with pytest.raises(IntegrityError), lead_bulk_insert(connection):
        insert_many(Lead, [{"name": "Twin", "email": "taken@x.test", "email_normalized": taken.email_normalized}])

    lead_intake(data=LeadData.build(name="After Failure", email="after@x.test"), source="website")
    assert lead_counts() == _group_by()
    assert [lead.name for lead in lead_search("after fail")] == ["After Failure"]
    _search_index_matches_the_table()
