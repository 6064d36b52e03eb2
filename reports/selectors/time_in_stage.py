"""Time in stage: median and 90th percentile days per stage, from the stage history.

A stay starts with a `StageChange` into a stage and ends with the lead's next change; the stage
service writes that end onto the change it ends (`left_at`, `seconds_in_stage`) when the lead
moves, so each stay is one row. Only finished stays count, those that started in the range: a
lead still in its stage has no length yet, and shows under "where leads stall" instead. The
percentiles are nearest rank (the value at position ceil(p * n) in sorted order): PostgreSQL's
`percentile_disc`, and on SQLite that position read from stagechange_stay_length_idx, which
holds the stays in order of length, so both engines agree. Where leads stall comes from the leads as
they are now: how many sit in each stage, and how many of those have sat there longer than
`STALL_DAYS` (since their last move, or since they arrived).

A merge moves the duplicate's history onto the survivor with the ends it had: each stay is
what happened to the record that lived it, not re-paired with the survivor's moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from leads.models import PIPELINE_ORDER
from reports.periods import Period
from reports.selectors.sql import dt_param, fetch

STALL_DAYS = 14
DAY = 86400.0


@dataclass(frozen=True)
class StageTimes:
    stage: str
    finished: int
    median_days: float | None
    p90_days: float | None
    open_now: int
    stalled: int


def _finished_stays(period: Period) -> list[tuple]:
    """(stage, finished stays, median seconds, p90 seconds) per stage that had finished stays."""
    if period.source:
        leads_sql, lead_params = (
            "sc.lead_id IN (SELECT id FROM leads_lead WHERE source = %s AND merged_into_id IS NULL)",
            [period.source],
        )
    else:
        # Merged leads are few: excluding them is one small set, not a lookup per change.
        leads_sql, lead_params = "sc.lead_id NOT IN (SELECT id FROM leads_lead WHERE merged_into_id IS NOT NULL)", []
    where = f"sc.seconds_in_stage IS NOT NULL AND sc.changed_at >= %s AND sc.changed_at < %s AND {leads_sql}"
    params = [dt_param(period.start_at), dt_param(period.end_at), *lead_params]
    if connection.vendor == "postgresql":
        return fetch(
            f"""
            SELECT sc.to_stage, COUNT(*),
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY sc.seconds_in_stage),
                   percentile_disc(0.9) WITHIN GROUP (ORDER BY sc.seconds_in_stage)
            FROM leads_stagechange sc WHERE {where} GROUP BY sc.to_stage
            """,  # noqa: S608 (only constants are interpolated; values are parameters)
            params,
        )
    # SQLite has no percentile aggregate, and a window's row numbers cost more than the stays
    # themselves. stagechange_stay_length_idx holds the finished stays per stage in order of
    # length: one pass counts them, then each percentile is one step into that order (OFFSET
    # rank - 1), all read from the index. Two queries whatever the number of rows.
    indexed = "leads_stagechange sc INDEXED BY stagechange_stay_length_idx"
    counts = fetch(f"SELECT sc.to_stage, COUNT(*) FROM {indexed} WHERE {where} GROUP BY sc.to_stage", params)  # noqa: S608
    if not counts:
        return []
    pick = f"""(
        SELECT sc.seconds_in_stage FROM {indexed} WHERE sc.to_stage = %s AND {where}
        ORDER BY sc.seconds_in_stage LIMIT 1 OFFSET %s
    )"""  # noqa: S608 (only constants are interpolated; values are parameters)
    picks, pick_params = [], []
    for stage, n in counts:
        for rank in ((n + 1) // 2, (9 * n + 9) // 10):  # ceil(0.5 n), ceil(0.9 n) in whole numbers
            picks.append(pick)
            pick_params += [stage, *params, rank - 1]
    (values,) = fetch("SELECT " + ", ".join(picks), pick_params)
    return [(stage, n, values[2 * i], values[2 * i + 1]) for i, (stage, n) in enumerate(counts)]


def time_in_stage_report(*, period: Period, now: datetime | None = None) -> list[StageTimes]:
    now = now or timezone.now()
    finished = {row[0]: row for row in _finished_stays(period)}
    # Where leads sit now, from the lead itself (a lead never moved has sat since it arrived), read
    # from lead_stage_since_idx alone. SQLite must be told: it would otherwise walk the board's
    # index (also the active leads, grouped by stage) and read every lead's row for its times,
    # four times the cost at 100,000 leads.
    since_index = "INDEXED BY lead_stage_since_idx" if connection.vendor == "sqlite" else ""
    source_sql, source_params = ("AND l.source = %s", [period.source]) if period.source else ("", [])
    open_ = {
        stage: (int(n), int(stalled))
        for stage, n, stalled in fetch(
            f"""
            SELECT l.stage, COUNT(*),
                   COALESCE(SUM(CASE WHEN COALESCE(l.stage_changed_at, l.created_at) < %s THEN 1 ELSE 0 END), 0)
            FROM leads_lead l {since_index}
            WHERE l.merged_into_id IS NULL {source_sql}
            GROUP BY l.stage
            """,  # noqa: S608 (only constants are interpolated; values are parameters)
            [dt_param(now - timedelta(days=STALL_DAYS)), *source_params],
        )
    }
    result = []
    for stage in PIPELINE_ORDER:
        done, current = finished.get(stage), open_.get(stage)
        result.append(
            StageTimes(
                stage=stage,
                finished=int(done[1]) if done else 0,
                median_days=float(done[2]) / DAY if done else None,
                p90_days=float(done[3]) / DAY if done else None,
                open_now=current[0] if current else 0,
                stalled=current[1] if current else 0,
            )
        )
    return result
