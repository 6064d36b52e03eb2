"""Time in stage: median and 90th percentile days per stage, from the stage history.

A stay starts with a `StageChange` into a stage and ends with the lead's next change. Finished
stays that started in the range give the percentiles (nearest rank: the value at position
ceil(p * n) in sorted order, computed with window functions so both engines agree). Open stays
(the lead is still there) show where leads stall: how many sit in each stage now, and how many
of those have sat longer than `STALL_DAYS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from leads.models import PIPELINE_ORDER
from reports.periods import Period
from reports.selectors.sql import days_between, dt_param, fetch

STALL_DAYS = 14


@dataclass(frozen=True)
class StageTimes:
    stage: str
    finished: int
    median_days: float | None
    p90_days: float | None
    open_now: int
    stalled: int


def _stays_cte(period: Period) -> tuple[str, list]:
    source_sql = "AND l.source = %s" if period.source else ""
    sql = f"""
        stays AS (
            SELECT sc.to_stage AS stage, sc.changed_at AS entered,
                   LEAD(sc.changed_at) OVER (PARTITION BY sc.lead_id ORDER BY sc.changed_at, sc.id) AS left_at
            FROM leads_stagechange sc
            JOIN leads_lead l ON l.id = sc.lead_id
            WHERE l.merged_into_id IS NULL {source_sql}
        )
    """  # noqa: S608 (only constants are interpolated; values are parameters)
    return sql, ([period.source] if period.source else [])


def time_in_stage_report(*, period: Period, now: datetime | None = None) -> list[StageTimes]:
    now = now or timezone.now()
    stays, params = _stays_cte(period)
    days = days_between("entered", "left_at")
    sql = f"""
        WITH {stays},
        finished AS (
            SELECT stage, {days} AS days FROM stays
            WHERE left_at IS NOT NULL AND entered >= %s AND entered < %s
        ),
        ranked AS (
            SELECT stage, days,
                   ROW_NUMBER() OVER (PARTITION BY stage ORDER BY days) AS rn,
                   COUNT(*) OVER (PARTITION BY stage) AS n
            FROM finished
        )
        SELECT stage, 'finished' AS kind, MAX(n),
               MAX(CASE WHEN rn = (n + 1) / 2 THEN days END),
               MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN days END)
        FROM ranked GROUP BY stage
        UNION ALL
        SELECT stage, 'open' AS kind, COUNT(*),
               SUM(CASE WHEN entered < %s THEN 1 ELSE 0 END), NULL
        FROM stays WHERE left_at IS NULL GROUP BY stage
    """  # noqa: S608 (only constants are interpolated; values are parameters)
    stalled_before = dt_param(now - timedelta(days=STALL_DAYS))
    rows = fetch(sql, [*params, dt_param(period.start_at), dt_param(period.end_at), stalled_before])
    finished = {row[0]: row for row in rows if row[1] == "finished"}
    open_ = {row[0]: row for row in rows if row[1] == "open"}
    result = []
    for stage in PIPELINE_ORDER:
        done, current = finished.get(stage), open_.get(stage)
        result.append(
            StageTimes(
                stage=stage,
                finished=int(done[2]) if done else 0,
                median_days=float(done[3]) if done else None,
                p90_days=float(done[4]) if done else None,
                open_now=int(current[2]) if current else 0,
                stalled=int(current[3] or 0) if current else 0,
            )
        )
    return result
