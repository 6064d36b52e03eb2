"""Funnel: how many leads reached each stage in the range, by source.

A lead counts as reaching a stage when, in the range, it moved to that stage or a later one
(events skip stages: a booking moves a lead straight from New to Booked). "New" is the leads
created in the range. Grouped in the database: one query for the sources (a loose index scan),
one for the counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from leads.models import Stage
from reports.periods import Period
from reports.selectors.sources import lead_sources
from reports.selectors.sql import dt_param, fetch

FUNNEL_STAGES: list[str] = [
    Stage.NEW,
    Stage.CONTACTED,
    Stage.REPLIED,
    Stage.BOOKED,
    Stage.CALL_DONE,
    Stage.PROPOSAL_SENT,
    Stage.SIGNED,
    Stage.PAID,
]


@dataclass(frozen=True)
class Funnel:
    stages: list[str]
    sources: list[str]
    reached: dict[str, list[int]]  # source -> count per stage; "" is every source together

    def conversion(self, source: str = "") -> list[float | None]:
        """Share of each stage's leads that reached the next one (None where nobody reached it)."""
        counts = self.reached[source]
        return [counts[i + 1] / counts[i] if counts[i] else None for i in range(len(counts) - 1)]

    def to_paid(self, source: str = "") -> list[float | None]:
        counts = self.reached[source]
        return [counts[-1] / count if count else None for count in counts]


def funnel_report(*, period: Period) -> Funnel:
    furthest_case = " ".join(f"WHEN '{stage}' THEN {i}" for i, stage in enumerate(FUNNEL_STAGES) if i)
    source_sql = "AND l.source = %s" if period.source else ""
    start, end = dt_param(period.start_at), dt_param(period.end_at)
    # SQLite would find the range's moves by time and then sort them by lead to group them (most
    # of this report's time at 100,000 leads); read in lead order from stagechange_lead_stage_idx,
    # which holds each move's time and stage, they group as they come and the leads are looked up
    # in order. PostgreSQL hashes the groups and needs no hint.
    moves_index = "INDEXED BY stagechange_lead_stage_idx" if connection.vendor == "sqlite" else ""
    # Two aggregates in one round trip. Arrivals per source: one range of lead_active_source_idx
    # per source, counted from the index alone, where a grouped count over a long range has
    # PostgreSQL read every lead's row.
    # And each moved lead's furthest stage in the range, its source read from
    # lead_active_id_source_idx (narrow, the active leads only) rather than the leads table.
    # "New" needs no fold with the moves: a lead counts at New when it arrived in the range, and at
    # a later stage when it moved there (or further) in the range.
    sources = [period.source] if period.source else lead_sources()
    if not sources:
        return Funnel(stages=FUNNEL_STAGES, sources=[], reached={"": [0] * len(FUNNEL_STAGES)})
    # The sources as constants, so PostgreSQL knows how many ranges it will count.
    sources_sql = " UNION ALL ".join("SELECT %s AS source" for _ in sources)
    sql = f"""
        SELECT arrivals.source, 1, 0, arrivals.n FROM (
            SELECT src.source, (
                SELECT COUNT(*) FROM leads_lead a
                WHERE a.merged_into_id IS NULL AND a.source = src.source
                      AND a.created_at >= %s AND a.created_at < %s
            ) AS n
            FROM ({sources_sql}) src
        ) arrivals
        UNION ALL
        SELECT l.source, 0, per_lead.furthest, COUNT(*) FROM (
            SELECT lead_id, MAX(CASE to_stage {furthest_case} ELSE 0 END) AS furthest
            FROM leads_stagechange {moves_index} WHERE changed_at >= %s AND changed_at < %s
            GROUP BY lead_id
        ) per_lead
        JOIN leads_lead l ON l.id = per_lead.lead_id
        WHERE l.merged_into_id IS NULL AND per_lead.furthest > 0 {source_sql}
        GROUP BY l.source, per_lead.furthest
    """  # noqa: S608 (only constants are interpolated; values are parameters)
    params: list = [start, end, *sources, start, end]
    if period.source:
        params.append(period.source)
    rows = fetch(sql, params, indexes_only=True)
    sources = sorted({row[0] for row in rows if row[3]})
    reached = {source: [0] * len(FUNNEL_STAGES) for source in ["", *sources]}
    for source, is_new, furthest, count in rows:  # at most sources x 2 x 8 grouped rows
        if not count:
            continue
        for key in ("", source):
            if is_new:
                reached[key][0] += count
            for i in range(1, int(furthest) + 1):
                reached[key][i] += count
    return Funnel(stages=FUNNEL_STAGES, sources=sources, reached=reached)
