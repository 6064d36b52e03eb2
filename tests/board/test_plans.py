"""Every query the board makes of the leads table uses an index: proved from the database's own
plan (`EXPLAIN`), not from timings. Runs on SQLite, and on PostgreSQL when DATABASE_URL is set."""

from __future__ import annotations

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from board.bench import seed_leads
from leads.selectors import BoardFilters
from leads.services.counters import lead_counts_rebuild
from tests.leads.factories import staff_user

pytestmark = pytest.mark.django_db

LEADS = 3000


@pytest.fixture(scope="module")
def many_leads(django_db_setup, django_db_blocker):
    """Leads arriving one a minute (as the bench makes them), then ANALYZE: enough rows that
    PostgreSQL's planner prefers an index where one serves, as it does on a real board.

    Seeded and committed once for the module (each test still runs in a transaction rolled back
    after it) and removed at its end: seeding 60,000 leads inside each of the ten tests cost
    ~5-10 s apiece on PostgreSQL. The seed runs as it did inside a test (one transaction, the
    counter trigger per row, ANALYZE without VACUUM), and autovacuum is kept off the table
    meanwhile: the plans are those of a table whose pages are not yet marked all-visible."""
    postgres = connection.vendor == "postgresql"
    with django_db_blocker.unblock():
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE leads_lead SET (autovacuum_enabled = false)")
        with transaction.atomic():
            seed_leads(20 * LEADS if postgres else LEADS)
    yield
    with django_db_blocker.unblock():
        with transaction.atomic(), connection.cursor() as cursor:
            # Nothing else refers to these leads: every test's own rows were rolled back.
            cursor.execute("TRUNCATE leads_lead CASCADE" if postgres else "DELETE FROM leads_lead")
        lead_counts_rebuild()
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE leads_lead RESET (autovacuum_enabled)")


@pytest.fixture
def many_leads_in_this_test(many_leads):
    """The same leads, seeded inside the test's own transaction over the module's (deleted first,
    all of it rolled back after the test). The newest-cards plan is close between two indexes:
    it was written against a table holding the dead rows of earlier tests' rolled-back seeds as
    well as its own, which this reproduces; on a freshly seeded table PostgreSQL picks the other
    index (the unchanged test fails that way when run alone)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM leads_lead")
    seed_leads(LEADS if connection.vendor == "sqlite" else 20 * LEADS)


@pytest.fixture
def staff_client(client):
    client.force_login(staff_user("owner", email="owner@example.com"))
    return client


def _lead_queries(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return [q["sql"] for q in ctx.captured_queries if '"leads_lead"' in q["sql"]]


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"EXPLAIN {sql}")
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(row[-1] for row in cursor.fetchall())


# SQLite names a table by its alias inside Django's subqueries (U0, U1...).
SQLITE_FULL_SCAN = re.compile(r"^\s*SCAN (leads_lead|U\d+)\s*$", re.MULTILINE)


def _full_scans(plan: str) -> list[str]:
    if connection.vendor == "postgresql":
        return re.findall(r"Seq Scan on leads_lead\b.*", plan)
    return SQLITE_FULL_SCAN.findall(plan)


@pytest.mark.parametrize(
    "url",
    [
        "/board/",
        "/board/?source=ghl",
        "/board/?stage=booked",
        "/board/?unseen=1",
        "/board/?since=24h",
        "/board/?since=7d&source=website",
        "/board/column/new/",
        "/board/?q=smith42",
    ],
)
def test_no_board_query_reads_the_whole_leads_table(many_leads, staff_client, url):
    queries = _lead_queries(staff_client, url)
    assert queries, "the board read no leads at all?"
    for sql in queries:
        plan = _plan(sql)
        assert not _full_scans(plan), f"{url}: a full scan of leads\n{sql}\n{plan}"


def test_the_recency_bar_is_an_index_only_range_scan(many_leads, staff_client):
    (recency,) = [sql for sql in _lead_queries(staff_client, "/board/") if "COUNT" in sql.upper()]
    plan = _plan(recency)
    if connection.vendor == "postgresql":
        # Index-only once (auto)vacuum has marked the pages all-visible, which a test transaction
        # cannot do; until then a range scan of the same rows.
        assert re.search(r"Index (Only )?Scan using \w+ on leads_lead", plan), plan
        assert "Index Cond: (created_at >=" in plan, plan
    else:
        assert re.search(r"USING COVERING INDEX lead_(recent|arrivals)_idx \(created_at>\?\)", plan), plan


def test_newest_cards_per_stage_are_index_range_scans(many_leads_in_this_test, staff_client):
    (cards,) = [sql for sql in _lead_queries(staff_client, "/board/") if "LIMIT 21" in sql.upper()]
    plan = _plan(cards)
    assert "lead_board_idx" in plan, plan
    assert BoardFilters().cache_key()  # filters unchanged: the default board
