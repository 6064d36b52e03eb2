"""Time in stage: median and 90th percentile days per stage, from the stage history.

A stay starts with a `StageChange` into a stage and ends with the lead's next change. Finished
stays that started in the range give the percentiles (nearest rank: the value at position
ceil(p * n) in sorted order, computed with window functions so both engines agree). Where leads
stall comes from the leads as they are now: how many sit in each stage, and how many of those
have sat there longer than `STALL_DAYS` (since their last move, or since they arrived).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from leads.models import PIPELINE_ORDER, Lead
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


def _finished_stays(period: Period) -> list[tuple]:
    if period.source:
        leads_sql, lead_params = (
            "sc.lead_id IN (SELECT id FROM leads_lead WHERE source = %s AND merged_into_id IS NULL)",
            [period.source],
        )
    else:
        # Merged leads are few: excluding them is one small set, not a lookup per change.
        leads_sql, lead_params = "sc.lead_id NOT IN (SELECT id FROM leads_lead WHERE merged_into_id IS NOT NULL)", []
    days = days_between("entered", "left_at")
    # A stay's end is the lead's next change, never earlier than the stay's start: the history
    # from the range's start on holds every stay that began in the range and its end. The
    # window reads it in (lead, time, id) order straight from stagechange_lead_time_idx.
    sql = f"""
        WITH stays AS (
            SELECT sc.to_stage AS stage, sc.changed_at AS entered,
                   LEAD(sc.changed_at) OVER (PARTITION BY sc.lead_id ORDER BY sc.changed_at, sc.id) AS left_at
            FROM leads_stagechange sc
            WHERE sc.changed_at >= %s AND {leads_sql}
        ),
        finished AS (
            SELECT stage, {days} AS days FROM stays
            WHERE left_at IS NOT NULL AND entered < %s
        ),
        ranked AS (
            SELECT stage, days,
                   ROW_NUMBER() OVER (PARTITION BY stage ORDER BY days) AS rn,
                   COUNT(*) OVER (PARTITION BY stage) AS n
            FROM finished
        )
        SELECT stage, MAX(n),
               MAX(CASE WHEN rn = (n + 1) / 2 THEN days END),
               MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN days END)
        FROM ranked GROUP BY stage
    """  # noqa: S608 (only constants are interpolated; values are parameters)
    start, end = dt_param(period.start_at), dt_param(period.end_at)
    return fetch(sql, [start, *lead_params, end])


def time_in_stage_report(*, period: Period, now: datetime | None = None) -> list[StageTimes]:
    now = now or timezone.now()
    finished = {row[0]: row for row in _finished_stays(period)}
    leads = Lead.objects.filter(merged_into__isnull=True)
    if period.source:
        leads = leads.filter(source=period.source)
    # Where leads sit now, from the lead itself (a lead never moved has sat since it arrived).
    open_ = {
        row["stage"]: row
        for row in leads.annotate(since=Coalesce("stage_changed_at", "created_at"))
        .values("stage")
        .annotate(n=Count("id"), stalled=Count("id", filter=Q(since__lt=now - timedelta(days=STALL_DAYS))))
        .order_by()
    }
    result = []
    for stage in PIPELINE_ORDER:
        done, current = finished.get(stage), open_.get(stage)
        result.append(
            StageTimes(
                stage=stage,
                finished=int(done[1]) if done else 0,
                median_days=float(done[2]) if done else None,
                p90_days=float(done[3]) if done else None,
                open_now=current["n"] if current else 0,
                stalled=current["stalled"] if current else 0,
            )
        )
    return result
