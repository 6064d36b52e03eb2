"""PostgreSQL's plans for the funnel and outreach reports: no sequential scan over the big tables.

The plans are read from a database seeded with a few thousand leads and then VACUUM ANALYZEd (as
autovacuum keeps a database in use; index-only scans need the visibility map that VACUUM sets),
each query replayed with the settings the report runs it with. Those include `enable_seqscan =
off` (`reports.selectors.sql.fetch`, measured faster or equal at 100,000 leads), which only makes
a sequential scan the last resort: a big table with no index the query can use is still read
whole, and fails here. So these tests prove every big table is reached through an index, and
which ones; the index-only scans named below are the ones the reports were given.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reports.periods import owner_today, period_for
from reports.seed import seed_report_data
from reports.selectors.funnel import funnel_report
from reports.selectors.outreach import outreach_report

pytestmark = [
    pytest.mark.django_db(transaction=True),  # VACUUM cannot run inside the test's transaction
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans (SQLite's: test_plans.py)"),
]

# The tables that grow with the leads: none of them may be read whole.
BIG_TABLES = {
    "leads_lead",
    "leads_stagechange",
    "leads_leadevent",
    "leads_enrollment",
    "leads_outboundmessage",
    "leads_inboundreply",
    "classify_classification",
}


@pytest.fixture
def analyzed(transactional_db: None) -> None:
    # Fresh files for the big tables first: the suite's flush between transactional tests DELETEs
    # rows, and an earlier test's dead rows (not removable by VACUUM while another session on
    # this database holds an older snapshot) can leave pages not
    # all-visible, so PostgreSQL would rightly prefer the table to an index-only scan.
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(sorted(BIG_TABLES))} CASCADE")
    seed_report_data(leads=3000, now=timezone.now(), seed=11)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {', '.join(sorted(BIG_TABLES))}")


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _plans(report: Any, **filters: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    """Each SELECT the report ran, with the nodes of the plan PostgreSQL makes for it."""
    period = replace(period_for("this_year", today=owner_today()), **filters)
    with CaptureQueriesContext(connection) as ctx:
        report(period=period)
    plans = []
    # Replayed as the report ran them: each query in its transaction with its SET LOCAL settings.
    with transaction.atomic(), connection.cursor() as cursor:
        for query in ctx.captured_queries:
            sql = query["sql"]
            if sql.startswith("SET LOCAL"):
                cursor.execute(sql)
            elif sql.lstrip().upper().startswith(("SELECT", "WITH")):
                cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
                (document,) = cursor.fetchone()
                plans.append((sql, list(_nodes(document[0]["Plan"]))))
                cursor.execute("RESET ALL")
    return plans


def _outline(nodes: list[dict[str, Any]]) -> str:
    return "\n".join(f"{n['Node Type']} {n.get('Relation Name', '')} {n.get('Index Name', '')}" for n in nodes)


def _seq_scans(nodes: list[dict[str, Any]]) -> list[str]:
    return [n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan" and n["Relation Name"] in BIG_TABLES]


def _index_only(nodes: list[dict[str, Any]]) -> set[str]:
    return {n["Index Name"] for n in nodes if n["Node Type"] == "Index Only Scan"}


@pytest.mark.parametrize("source", ["", "ghl"])
def test_the_funnel_reads_no_big_table_whole(analyzed, source):
    nodes = next(nodes for sql, nodes in _plans(funnel_report, source=source) if "leads_stagechange" in sql)
    assert _seq_scans(nodes) == [], _outline(nodes)
    # Each moved lead's source comes from the narrow index of active leads, not the table, and the
    # arrivals from one range of (source, created_at) per source.
    assert {"lead_active_id_source_idx", "lead_active_source_idx"} <= _index_only(nodes), _outline(nodes)
    # Each lead's moves with their stage, in lead order, from the index alone (no row read).
    assert "stagechange_lead_stage_idx" in _index_only(nodes), _outline(nodes)


@pytest.mark.parametrize("source", ["", "ghl"])
def test_outreach_reads_no_big_table_whole(analyzed, source):
    plans = _plans(outreach_report, source=source)
    for _sql, nodes in plans:
        assert _seq_scans(nodes) == [], _outline(nodes)
    grouped = next(nodes for sql, nodes in plans if "answered" in sql)
    used = _index_only(grouped)
    # Each unsubscribe's email: the last entry before it, read backwards, with no sort of the lead's
    # emails (a reply's email is recorded on it).
    assert "outbound_lead_sent_idx" in used, _outline(grouped)
    assert not [n for n in grouped if n["Node Type"] == "Sort" and "sent_at" in str(n.get("Sort Key"))], _outline(
        grouped
    )
    # The emails sent (only the sequence emails sent are in that index), the replies per email they
    # answer, and the unsubscribes: index only.
    assert {"outbound_sequence_sent_idx", "inboundreply_answer_idx", "leadevent_kind_at_idx"} <= used, _outline(grouped)
    # The emails sent are joined to the emails answered (merged in id order at 100,000 leads):
    # no email is looked up by id, and the emails sent are never sorted.
    joined = [n for n in grouped if "in_answer_to_id" in n.get("Merge Cond", n.get("Hash Cond", ""))]
    assert joined, _outline(grouped)
    sorted_sent = [
        n
        for n in grouped
        if n["Node Type"] == "Sort"
        and any(child.get("Index Name") == "outbound_sequence_sent_idx" for child in _nodes(n))
    ]
    assert not sorted_sent, _outline(grouped)
