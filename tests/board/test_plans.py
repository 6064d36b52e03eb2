"""Every query the board makes of the leads table uses an index: proved from the database's own
plan (`EXPLAIN`), not from timings. Runs on SQLite, and on PostgreSQL when DATABASE_URL is set."""

from __future__ import annotations

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from board.bench import seed_leads
from leads.models import PIPELINE_ORDER, Lead, Stage
from leads.selectors import CARDS_PER_COLUMN, BoardFilters, board_column_leads
from leads.services.counters import lead_counts_rebuild
from tests.leads.factories import staff_user

pytestmark = pytest.mark.django_db

LEADS = 3000


# The stage whose leads the fixture makes all old (as Paid or Lost are on a real board): the
# newest-cards query must reach its 21 newest without reading the newer leads of other stages.
OLD_STAGE = Stage.PAID


def _make_stage_all_old(stage: str) -> None:
    """The oldest leads, as many as `stage` has, take that stage; its newer ones move to New. The
    stage keeps its share of the table (so its statistics say it is common), all of it old."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM leads_lead WHERE stage = %s", [stage])
        (n,) = cursor.fetchone()
        cursor.execute(
            "UPDATE leads_lead SET stage = CASE"
            " WHEN id IN (SELECT id FROM (SELECT id FROM leads_lead ORDER BY created_at, id LIMIT %s) AS o)"
            " THEN %s ELSE %s END"
            " WHERE stage = %s"
            " OR id IN (SELECT id FROM (SELECT id FROM leads_lead ORDER BY created_at, id LIMIT %s) AS o)",
            [n, stage, Stage.NEW, stage, n],
        )


@pytest.fixture(scope="module")
def many_leads(django_db_setup, django_db_blocker):
    """Leads arriving one a minute (as the bench makes them), one stage's all old, then (VACUUM)
    ANALYZE: a freshly seeded table with no dead rows, the state in which PostgreSQL's planner
    is the least inclined to an index it must visit the table from.

    Seeded and committed once for the module (each test still runs in a transaction rolled back
    after it) and removed at its end. On PostgreSQL the seed is the bench's (outside a transaction:
    indexes built after the rows, counters recounted once), and VACUUM ANALYZE runs after the
    skew's update in autocommit; autovacuum is kept off the table meanwhile, so the statistics
    stay those of that fresh table whatever the tests' rolled-back rows leave behind."""
    postgres = connection.vendor == "postgresql"
    with django_db_blocker.unblock():
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE leads_lead SET (autovacuum_enabled = false)")
        seed_leads(20 * LEADS if postgres else LEADS)
        with transaction.atomic():
            _make_stage_all_old(OLD_STAGE)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE leads_lead" if postgres else "ANALYZE")
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


def _board_index_scans(plan: str) -> list[str]:
    if connection.vendor == "postgresql":
        return re.findall(r"Index (?:Only )?Scan using lead_board_idx on leads_lead\b.*", plan)
    return re.findall(r"SEARCH leads_lead USING (?:COVERING )?INDEX lead_board_idx \(stage=\?\).*", plan)


def _stage_parts(plan: str) -> list[str]:
    """Each stage's part of the cards query's plan (the UNION ALL's subqueries `newest_N`)."""
    if connection.vendor == "postgresql":
        parts = plan.split("Subquery Scan on newest_")[1:]
        return [*parts[:-1], parts[-1].split("Index Scan using leads_lead_pkey")[0]] if parts else []
    return [part.split("SCAN newest_")[0] for part in plan.split("CO-ROUTINE newest_")[1:]]


def test_newest_cards_per_stage_are_index_range_scans(many_leads, staff_client):
    (cards,) = [sql for sql in _lead_queries(staff_client, "/board/") if "LIMIT 21" in sql.upper()]
    plan = _plan(cards)
    stages = cards.upper().count("LIMIT 21")
    assert stages == len(PIPELINE_ORDER), cards
    assert len(_stage_parts(plan)) == stages, plan
    # Every stage's part: a range scan of the board index, in its order (no sort), nothing else.
    assert len(_board_index_scans(plan)) == stages, plan
    assert "lead_arrivals_idx" not in plan, plan
    assert not _full_scans(plan), plan
    # ... read in the index's order: no part sorts (only the outer query, once).
    for part in _stage_parts(plan):
        assert "Sort" not in part and "TEMP B-TREE" not in part, plan
    assert BoardFilters().cache_key()  # filters unchanged: the default board


def test_a_stage_of_old_leads_shows_its_newest_from_the_board_index(many_leads):
    newest = list(
        Lead.objects.filter(stage=OLD_STAGE, merged_into__isnull=True)
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)[:CARDS_PER_COLUMN]
    )
    assert len(newest) == CARDS_PER_COLUMN
    # The stage's leads are all older than every other stage's.
    newest_of_stage = Lead.objects.get(id=newest[0]).created_at
    assert not Lead.objects.exclude(stage=OLD_STAGE).filter(created_at__lte=newest_of_stage).exists()

    with CaptureQueriesContext(connection) as ctx:
        columns = board_column_leads(BoardFilters(), stages=[OLD_STAGE], per_column=CARDS_PER_COLUMN)
    assert [lead.id for lead in columns[OLD_STAGE][:CARDS_PER_COLUMN]] == newest
    (cards,) = [q["sql"] for q in ctx.captured_queries if "LIMIT 21" in q["sql"].upper()]
    plan = _plan(cards)
    assert len(_board_index_scans(plan)) == 1, plan
    assert "lead_arrivals_idx" not in plan, plan


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.parametrize("walk", [4000, 5])
def test_a_search_counts_each_stage_from_the_stage_trigram_index_and_ranks_a_capped_one_from_its_newest(
    many_leads, monkeypatch, walk
):
    # Under a search, each stage's matches (up to the cap) come from the trigram index with the
    # stage in front, one bitmap per stage, never every match of the word; a stage with more than
    # the cap walks its newest leads in lead_board_idx order (no sort), and one whose matches are
    # not among them (here: a walk of 5) reads them from the index again. Each statement is
    # explained with the planner settings it runs with.
    from leads import selectors

    monkeypatch.setattr(selectors, "SEARCH_COUNT_CAP", 50)  # "smith": 1% of the leads, most stages capped
    monkeypatch.setattr(selectors, "SEARCH_WALK_ROWS", walk)
    with CaptureQueriesContext(connection) as ctx:
        counts, capped, newest = selectors._search_stage_reads(
            BoardFilters(q="smith"), selectors.timezone.now(), stages=list(PIPELINE_ORDER)
        )
    assert capped and len(capped) < len(PIPELINE_ORDER), (counts, capped)
    assert all(len(newest[stage]) == CARDS_PER_COLUMN + 1 for stage in capped), newest
    index_reads = [q["sql"] for q in ctx.captured_queries if "ARRAY_AGG" in q["sql"] or "newest_0" in q["sql"]]
    (walk_sql,) = [q["sql"] for q in ctx.captured_queries if "walk_0" in q["sql"]]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_incremental_sort = off")
        walk_plan = _plan(walk_sql)
        cursor.execute("SET LOCAL enable_bitmapscan = on")
        cursor.execute("SET LOCAL enable_sort = on")
        cursor.execute("SET LOCAL enable_incremental_sort = on")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        index_plans = [_plan(sql) for sql in index_reads]
    assert len(_board_index_scans(walk_plan)) == len(capped), walk_plan
    assert "Sort" not in walk_plan and not _full_scans(walk_plan), walk_plan
    # The counts (all stages), then, with a short walk, the capped stages' matches again.
    assert len(index_plans) == (2 if walk == 5 else 1), index_reads
    stages_read = [len(PIPELINE_ORDER), len(capped)]
    for plan, n in zip(index_plans, stages_read, strict=False):
        assert plan.count("Bitmap Index Scan on lead_search_stage_trgm_idx") == n, plan
        assert not _full_scans(plan), plan
