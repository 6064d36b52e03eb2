"""The report queries read the indexes their speed at 100,000 leads depends on: proved from
SQLite's own plan (`EXPLAIN QUERY PLAN`), not from timings. The hints these plans rely on are
SQLite's; PostgreSQL plans its own (hash aggregates, `percentile_disc`)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reports.selectors.classification import classification_report
from reports.selectors.funnel import funnel_report
from reports.selectors.outreach import outreach_report
from reports.selectors.time_in_stage import time_in_stage_report

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plans (PostgreSQL plans its own)"),
]


def _plans(report, period) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        report(period=period)
    plans = []
    for query in ctx.captured_queries:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}")
            plans.append((query["sql"], "\n".join(str(row[-1]) for row in cursor.fetchall())))
    return plans


def test_time_in_stage_reads_the_stays_in_order_of_length_from_one_index(seeded, period):
    plans = _plans(time_in_stage_report, period)
    stays = [plan for sql, plan in plans if "leads_stagechange" in sql]
    assert len(stays) == 2  # the counts, then every percentile in one statement
    for plan in stays:
        assert "USING COVERING INDEX stagechange_stay_length_idx" in plan, plan
        assert "TEMP B-TREE FOR ORDER BY" not in plan, plan  # no sort: the index is the order
        assert "leads_stagechange_changed_at" not in plan, plan
    # Where leads sit now: the active leads' (stage, source, since) index alone, never their rows.
    (open_now,) = [plan for sql, plan in plans if "leads_lead l" in sql]
    assert "SCAN l USING INDEX lead_stage_since_idx" in open_now, open_now


def test_the_funnel_groups_moves_per_lead_in_index_order(seeded, period):
    plan = next(plan for sql, plan in _plans(funnel_report, period) if "leads_stagechange" in sql)
    assert "SCAN leads_stagechange USING COVERING INDEX stagechange_lead_stage_idx" in plan, plan
    # The arrivals: one range of the active leads' (source, created_at) index per source.
    assert "SEARCH a USING INDEX lead_active_source_idx (source=? AND created_at>? AND created_at<?)" in plan, plan


def test_outreach_counts_the_emails_sent_per_step_from_the_index_alone(seeded, period):
    plans = _plans(outreach_report, period)
    grouped = next(plan for sql, plan in plans if "came_back" in sql)
    # Each step's emails sent in the range: one range of the index, no sort of every email.
    assert (
        "SEARCH s USING COVERING INDEX outbound_step_sent_idx "
        "(kind=? AND status=? AND step_id=? AND sent_at>? AND sent_at<?)" in grouped
    ), grouped
    # The replies grouped per email they answer in index order (no sort), their labels, and each
    # unsubscribe's email: index only. No reply looks its email up by time.
    assert "SEARCH r USING COVERING INDEX inboundreply_answer_idx" in grouped, grouped
    assert "SEARCH c USING COVERING INDEX classification_reply_label_idx (reply_id=?)" in grouped, grouped
    answers = grouped[grouped.index("MATERIALIZE answered") : grouped.index("SCAN a\n")]
    assert "TEMP B-TREE" not in answers, grouped
    assert grouped.count("SEARCH m USING COVERING INDEX outbound_lead_sent_idx") == 1, grouped
    assert "SEARCH e USING COVERING INDEX leadevent_kind_at_idx (kind=? AND at>?)" in grouped, grouped
    # The enrollment is looked up per grouped row, never per email sent.
    assert grouped.index("SEARCH en USING INTEGER PRIMARY KEY") > grouped.index("SCAN ps"), grouped


def test_classification_counts_each_reply_once_from_the_indexes_alone(seeded, period):
    plans = _plans(classification_report, period)
    (grouped,) = [plan for sql, plan in plans if "classify_classification" in sql]
    # One pass: the replies in the range, each one's label and review state from the index.
    assert "SEARCH c USING COVERING INDEX classification_reply_label_idx (reply_id=?)" in grouped, grouped
