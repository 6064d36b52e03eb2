"""Reads of leads: the board's lead queries, the lead page, this app's timeline entries and counts.

Every board read is a fixed number of queries whatever the number of leads: the cards of all
columns come from one query (the newest rows of each stage, each an index range scan with a
LIMIT), the column counts and sources from the trigger-kept counters (`LeadCount`), the recency bar from
an index-only scan of the last week, and "load more" pages a single column in the database with a
keyset cursor (created_at, id) that follows the `lead_board_idx` index. None of them reads every lead.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import BooleanField, Case, Count, Func, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone
from rapidfuzz import fuzz

from clientsflow.compiled import compiled_instances, compiled_select
from leads.db_triggers import SEARCH_TABLE_SQLITE, SEARCH_TEXT_PG
from leads.models import CARD_FIELDS, PIPELINE_ORDER, Lead, LeadCount, LeadEvent, StageChange
from leads.services.dedup import possible_duplicates_open

CARDS_PER_COLUMN = 20

# The recency filters of the "new leads" bar: key -> (label, how far back).
RECENCY_WINDOWS: dict[str, tuple[str, timedelta]] = {
    "1h": ("Last hour", timedelta(hours=1)),
    "24h": ("Last 24 h", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
}


@dataclass(frozen=True)
class BoardFilters:
    """What the owner asked to see; every field travels in the URL."""

    q: str = ""
    source: str = ""
    stage: str = ""
    since: str = ""  # a RECENCY_WINDOWS key
    unseen: bool = False

    def cache_key(self) -> str:
        return (
            f"q={self.q.lower()}|source={self.source}|stage={self.stage}|since={self.since}|unseen={int(self.unseen)}"
        )

    def querystring(self) -> str:
        from urllib.parse import urlencode

        params = {
            k: v for k, v in (("q", self.q), ("source", self.source), ("stage", self.stage), ("since", self.since)) if v
        }
        if self.unseen:
            params["unseen"] = "1"
        return urlencode(params)

    @property
    def active(self) -> bool:
        return bool(self.q or self.source or self.stage or self.since or self.unseen)


@dataclass
class RecencyCounts:
    last_hour: int
    last_day: int
    last_week: int
    unseen: int


# --- Search -------------------------------------------------------------------------------------
# Name, email, company and phone (E.164), from an index on both databases: SQLite's FTS5 trigram
# table `leads_lead_search`, PostgreSQL's pg_trgm GIN index over those fields joined by a space
# (migration 0024, `SEARCH_TEXT_PG`). A query is split into words; a lead matches when every word
# is inside one of its fields (so "smit" finds Smith). When no lead matches, each word of four
# letters or more also matches with two neighbouring letters swapped or one letter dropped ("jonh"
# finds John). Both databases answer the same
# question (is this text inside that column, case aside), so they give the same leads.

SEARCH_MIN_WORD = 3  # the trigram index cannot look up anything shorter
# PostgreSQL, the board under a search: a column's matches are counted up to this, and shown as
# "1,000+" beyond it (the owner narrows the search rather than reads a thousand cards), so a
# common word costs each column at most this many rows, whatever the number of leads.
SEARCH_COUNT_CAP = 1000
# ... and a column with more takes its newest cards from its newest leads, at most this many read.
SEARCH_WALK_ROWS = 4000
_STAGE_STAND_IN = "\x00stage"  # compiled once into a per-stage query's SQL, then each stage in its place
_PLANNER_SAVED = ("enable_indexscan", "enable_seqscan", "enable_bitmapscan", "enable_sort", "enable_incremental_sort")
SEARCH_CANDIDATES = 100  # rows `lead_search` ranks, newest (highest id) first
# PostgreSQL: how many of the newest ids are searched first, then how many older ones, then the rest.
SEARCH_WINDOWS_PG = (16_000, 128_000)


def _typo_variants(word: str) -> list[str]:
    """The word as typed, with two neighbouring letters swapped, or with one letter dropped."""
    variants = {word}
    if len(word) > SEARCH_MIN_WORD:
        variants.update(word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1))
        variants.update(word[:i] + word[i + 1 :] for i in range(len(word)))
    kept = {v for v in variants if len(v) >= SEARCH_MIN_WORD}
    # A variant holding another inside it matches only leads the shorter one already matches
    # ("john" inside a field means "joh" is too), so leaving it out of the OR changes no result
    # and spares the index a lookup per searched column (on PostgreSQL, each a whole posting list).
    return sorted(v for v in kept if not any(other != v and other in v for other in kept))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search_where_pg(words: list[list[str]]) -> tuple[str, list[str]]:
    """PostgreSQL: the condition on a lead's own row that every word (any of its variants) is in
    one of the searched fields, which the trigram index over their joined text answers."""
    clauses, params = [], []
    for variants in words:
        ors = []
        for variant in variants:
            ors.append(f"({SEARCH_TEXT_PG}) ILIKE %s")
            params.append(f"%{_like_escape(variant)}%")
        clauses.append("(" + " OR ".join(ors) + ")")
    # The SQL holds only our column names; what the owner typed travels as parameters.
    return " AND ".join(clauses), params


def _search_sql(words: list[list[str]]) -> tuple[str, list[str]]:
    """SQL selecting the ids of leads (merged or not) where every word (any of its variants) is in
    one of the searched fields; answered from the search index."""
    if connection.vendor == "postgresql":
        where, params = _search_where_pg(words)
        return f"SELECT id FROM leads_lead WHERE {where}", params  # noqa: S608
    expression = " AND ".join(
        "(" + " OR ".join('"' + variant.replace('"', '""') + '"' for variant in variants) + ")" for variants in words
    )
    return f"SELECT rowid FROM {SEARCH_TABLE_SQLITE} WHERE {SEARCH_TABLE_SQLITE} MATCH %s", [expression]  # noqa: S608


def _search_ids(words: list[list[str]]) -> RawSQL:
    sql, params = _search_sql(words)
    if connection.vendor == "postgresql":
        # The match set from the trigram indexes first, on its own: inlined, the planner may
        # test every row of a stage's index range against the search instead.
        sql = f"WITH matches AS MATERIALIZED ({sql}) SELECT id FROM matches"  # noqa: S608
    return RawSQL(sql, params)  # noqa: S611 (only our SQL; the owner's words are parameters)


def search_words(q: str) -> list[str]:
    return [word for word in q.lower().split() if len(word) >= SEARCH_MIN_WORD]


def _searched_words(words: list[str]) -> list[list[str]]:
    """The words as typed when some lead matches them, else each with its one-typo variants."""
    if _newest_matches([[word] for word in words]):
        return [[word] for word in words]
    return [_typo_variants(word) for word in words]


def _short_search(q: str) -> Q:
    # Only one- or two-letter words: too short for the index, so a plain (scanning) match.
    return Q(name__icontains=q) | Q(email__icontains=q) | Q(company__icontains=q) | Q(phone__icontains=q)


def search_condition(q: str) -> Q:
    """Leads matching the search `q`: exact words first; when none match, words with one typo."""
    words = search_words(q)
    if not words:
        return _short_search(q)
    return Q(id__in=_search_ids(_searched_words(words)))


def _search_condition_inline(q: str) -> Q:
    """`search_condition` as a condition on the lead's own row (PostgreSQL): for a query that
    reads every match anyway (the board's counts and columns under a search), one bitmap scan of
    the trigram indexes that also hands over the row, instead of the ids first and then each row
    looked up again by primary key."""
    words = search_words(q)
    if not words:
        return _short_search(q)
    where, params = _search_where_pg(_searched_words(words))
    return Q(RawSQL(f"({where})", params, output_field=BooleanField()))  # noqa: S611 (our SQL; words are parameters)


def _search_score(q: str, lead: Lead) -> tuple[int, float, float]:
    """(words that start a part of a field, closeness of the best word to a part, of the query to a
    field): higher is better."""
    words = q.lower().split()
    fields = [value.lower() for value in (lead.name, lead.email, lead.company, lead.phone_e164) if value]
    parts = [part for value in fields for part in re.split(r"[\s@.&+-]+", value) if part]
    if not parts:
        return (0, 0.0, 0.0)
    starts = sum(1 for word in words if any(part.startswith(word) for part in parts))
    closeness = max(fuzz.ratio(word, part) for word in words for part in parts)
    return (starts, closeness, max(fuzz.partial_ratio(q.lower(), value) for value in fields))


def _newest_matches(words: list[list[str]]) -> list[int]:
    """Ids of the newest (highest id) `SEARCH_CANDIDATES` leads matching, straight from the index:
    FTS5 walks its doclists backwards by rowid; PostgreSQL asks its trigram indexes window by
    window, newest ids first (`SEARCH_WINDOWS_PG`), and stops once it has enough."""
    sql, params = _search_sql(words)
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} ORDER BY rowid DESC LIMIT %s", [*params, SEARCH_CANDIDATES])
            return [row[0] for row in cursor.fetchall()]
    # A GIN index cannot hand its matches over newest first, and all the matches of a common word
    # (or of a typo's variants) are a share of the table: ranking them all grows with it. So each
    # window of ids ANDs the trigram bitmaps with a primary-key range, and only the window's rows
    # are read and rechecked; the last window (everything older) is only asked about when the
    # newer ones hold fewer than `SEARCH_CANDIDATES` matches, i.e. when the word is rare.
    # PostgreSQL prices a trigram ILIKE like an integer comparison, so it would rather walk the
    # window's primary-key range testing every row (~50x slower): plain index scans are switched
    # off for these statements only (`set_config(..., true)`: this transaction, set back after).
    ranged = (
        f"WITH matches AS MATERIALIZED ({sql} AND id > %s AND id <= %s) "  # noqa: S608 (only our SQL)
        "SELECT id FROM matches ORDER BY id DESC LIMIT %s"
    )
    ids: list[int] = []
    with transaction.atomic(using=connection.alias, savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            "SELECT MAX(id), current_setting('enable_indexscan'), set_config('enable_indexscan', 'off', true) "
            "FROM leads_lead"
        )
        top, indexscan, _off = cursor.fetchone()
        high = top or 0
        for window in (*SEARCH_WINDOWS_PG, None):
            low = max(high - window, 0) if window is not None else 0
            if low < high:
                cursor.execute(ranged, [*params, low, high, SEARCH_CANDIDATES - len(ids)])
                ids.extend(row[0] for row in cursor.fetchall())
            if len(ids) >= SEARCH_CANDIDATES or low == 0:
                break
            high = low
        # (On an error the transaction rolls back, and the setting with it.)
        cursor.execute("SELECT set_config('enable_indexscan', %s, true)", [indexscan])
    return ids


def lead_search(q: str, *, limit: int = 20) -> list[Lead]:
    """Active leads matching `q`, best first: words starting a name, email or company part, then
    closeness of the text (rapidfuzz), then the newest. Ranks the newest `SEARCH_CANDIDATES`
    matches, taken from the index; words with one typo only when nothing matches as typed."""
    words = search_words(q)
    if not words:
        query = Lead.objects.filter(search_condition(q))
    else:
        ids = _newest_matches([[word] for word in words]) or _newest_matches([_typo_variants(w) for w in words])
        query = Lead.objects.filter(id__in=ids)
    candidates = list(
        query.filter(merged_into__isnull=True).only(*CARD_FIELDS, "phone_e164").order_by("-id")[:SEARCH_CANDIDATES]
    )
    scores = {lead.pk: _search_score(q, lead) for lead in candidates}
    candidates.sort(key=lambda lead: (scores[lead.pk], lead.created_at, lead.pk), reverse=True)
    return candidates[:limit]


def _filters_q(filters: BoardFilters, now: datetime, *, inline_search: bool = False) -> Q:
    condition = Q()
    if filters.q:
        condition &= _search_condition_inline(filters.q) if inline_search else search_condition(filters.q)
    if filters.source:
        condition &= Q(source=filters.source)
    if filters.stage:
        condition &= Q(stage=filters.stage)
    if filters.since in RECENCY_WINDOWS:
        condition &= Q(created_at__gte=now - RECENCY_WINDOWS[filters.since][1])
    if filters.unseen:
        condition &= Q(seen_at__isnull=True)
    return condition


def _compilable(filters: BoardFilters) -> bool:
    """Whether the board's queries for these filters have the same SQL whatever the time (no
    "Arrived" window) and a bounded number of shapes (no search text), so `compiled_select` may
    keep them."""
    return not filters.q and filters.since not in RECENCY_WINDOWS


def board_leads(filters: BoardFilters, *, now: datetime | None = None) -> QuerySet[Lead]:
    """Active (not merged) leads matching the filters, without ordering or slicing."""
    return Lead.objects.filter(merged_into__isnull=True).filter(_filters_q(filters, now or timezone.now()))


def encode_cursor(lead: Lead) -> str:
    raw = f"{lead.created_at.isoformat()}|{lead.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    """The (created_at, id) a cursor points after, or None when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, pk = raw.rsplit("|", 1)
        at = datetime.fromisoformat(stamp)
        if timezone.is_naive(at):
            return None
        return at, int(pk)
    except (ValueError, UnicodeDecodeError):
        return None


@dataclass
class BoardSummary:
    counts: dict[str, int]  # per stage, with the filters applied
    recency: RecencyCounts  # whole board, filters ignored
    sources: list[str]  # every source in use, for the filter menu
    # Under a search on PostgreSQL: each stage's newest matching ids (`CARDS_PER_COLUMN + 1`,
    # newest first), read with the counts; None when the columns read their own.
    newest_ids: dict[str, list[int]] | None = None
    # Stages whose count was taken only up to `SEARCH_COUNT_CAP` and has more (under a search, on
    # PostgreSQL): their count is the cap, shown as "1,000+".
    capped: frozenset[str] = frozenset()
    # Each stage's stamp (`column_stamps`), filters ignored.
    stamps: dict[str, int] = field(default_factory=dict)


def _lead_count_rows() -> list[tuple[str, str, bool, int, int]]:
    """(stage, source, unseen, active leads, changes) from the trigger-kept counters: ONE query
    over a few hundred rows at most, whatever the number of leads."""
    rows = compiled_select(
        "lead_count_rows",
        lambda _values: (
            LeadCount.objects.order_by()
            .values_list("stage", "source", "unseen")
            .annotate(total=Sum("n"), changed=Sum("changes"))
        ),
        {},
    )
    return [(stage, source, bool(unseen), int(total), int(changed)) for stage, source, unseen, total, changed in rows]


def lead_counts() -> dict[tuple[str, str, bool], int]:
    """Active leads per (stage, source, unseen), from the trigger-kept counters (one query)."""
    return {(stage, source, unseen): total for stage, source, unseen, total, _changed in _lead_count_rows() if total}


def _stamps_of(rows: list[tuple[str, str, bool, int, int]]) -> dict[str, int]:
    stamps = dict.fromkeys(PIPELINE_ORDER, 0)
    for stage, _source, _unseen, _total, changed in rows:
        stamps[stage] = stamps.get(stage, 0) + changed
    return stamps


def column_stamps() -> dict[str, int]:
    """Each stage's stamp: a number that grows with every lead that arrives in, leaves, is seen in
    or is deleted from that column, committed with the write that did it (`LeadCount.changes`).
    The board keys a column's cache entries on it, so those writes need not bump any cache version.
    ONE query; `board_summary` reads the same with the counts."""
    return _stamps_of(_lead_count_rows())


def recency_counts(*, now: datetime) -> tuple[int, int, int]:
    """New active leads in the last hour, day and week: ONE query of three `COUNT(*)`s, each an
    index-only range scan of `lead_recent_idx` (which holds `merged_into`), so it grows with the
    intake rate, not the table. (One COUNT with a FILTER per window would read every row of the
    week once per window, in the aggregate rather than in the index.)"""
    windows = ("1h", "24h", "7d")

    def build(values: dict[str, Any]) -> tuple[str, list[Any]]:
        active = Lead.objects.filter(merged_into__isnull=True).order_by()
        parts: list[str] = []
        params: list[Any] = []
        for key in windows:
            counted = active.filter(created_at__gte=values[key]).annotate(
                n=Func(template="COUNT(*)", output_field=IntegerField())
            )
            sql, part_params = counted.values("n").query.sql_with_params()
            parts.append(f"({sql})")
            params.extend(part_params)
        return f"SELECT {', '.join(parts)}", params

    [(last_hour, last_day, last_week)] = compiled_select(
        "recency_counts", build, {key: now - RECENCY_WINDOWS[key][1] for key in windows}
    )
    return int(last_hour), int(last_day), int(last_week)


def _planner(cursor: Any, settings: dict[str, str]) -> None:
    """Set planner switches for the rest of this transaction only (`set_config(..., true)`)."""
    cursor.execute(
        "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in settings),
        [value for pair in settings.items() for value in pair],
    )


_BITMAPS_ONLY = {"enable_indexscan": "off", "enable_seqscan": "off"}


def _search_stage_reads(
    filters: BoardFilters, now: datetime, *, stages: list[str], per_column: int = CARDS_PER_COLUMN
) -> tuple[dict[str, int], frozenset[str], dict[str, list[int]]]:
    """PostgreSQL, under a search: each of `stages`' matches counted up to `SEARCH_COUNT_CAP`, the
    stages that have more, and each stage's newest `per_column + 1` matching ids (newest first).

    Every match of a common word is not read: each stage's matches come from the trigram index
    with the stage in front (`SEARCH_INDEX_PG`), at most `SEARCH_COUNT_CAP + 1` of them, in one
    query for all stages; a stage that has fewer is counted and ranked from those. A stage with
    more (a word common in it) walks its newest `SEARCH_WALK_ROWS` leads in `lead_board_idx`
    order, testing each against the search, and stops at `per_column + 1` matches; a stage whose
    matches are not among its newest (an old word) reads all its matches from the index and keeps
    the newest.

    The planner prices a trigram ILIKE like an integer comparison and has no idea how many leads
    a word matches, so it may walk a stage's B-tree range, or the whole table, testing every row
    (at a million leads, a quarter of a second per stage): the index reads are made with plain
    index and sequential scans switched off, for these statements only."""
    wanted = per_column + 1
    match = _search_condition_inline(filters.q)
    base = Lead.objects.filter(merged_into__isnull=True).filter(_filters_q(replace(filters, q=""), now))
    rows = base.filter(match)

    def per_stage(
        query: QuerySet[Any], template: str, stage_list: list[str], *, before: bool = False, after: tuple[Any, ...] = ()
    ) -> tuple[str, list[Any]]:
        # One part per stage, UNION ALL-ed: the query's SQL compiled once (with a stand-in for the
        # stage), each part with its own stage. `template` wraps it ({sql}; {n}, the part's number);
        # its own parameters are the stage and `wanted` before the SQL's (`before`), `after` after.
        sql, compiled = query.query.sql_with_params()
        parts: list[str] = []
        params: list[Any] = []
        for stage in stage_list:
            parts.append(template.format(sql=sql, n=len(parts)))
            params.extend(
                [*((stage, wanted) if before else ()), *(stage if p == _STAGE_STAND_IN else p for p in compiled)]
            )
            params.extend(after)
        return " UNION ALL ".join(parts), params

    def from_index(stage_list: list[str]) -> tuple[str, list[Any]]:
        # Up to the cap of each stage's matches, counted, with the newest `wanted` ids.
        query = rows.filter(stage=_STAGE_STAND_IN).order_by().values("id", "created_at")[: SEARCH_COUNT_CAP + 1]
        counted = "SELECT %s, COUNT(*), (ARRAY_AGG(id ORDER BY created_at DESC, id DESC))[1:%s]"
        return per_stage(query, f"({counted} FROM ({{sql}}) AS matches_{{n}})", stage_list, before=True)

    def walked(stage_list: list[str]) -> tuple[str, list[Any]]:
        # Each stage's newest leads in board order, at most SEARCH_WALK_ROWS of them, and the
        # first `wanted` that match (the walk stops there).
        hit = Case(When(match, then=Value(True)), default=Value(False), output_field=BooleanField())
        query = (
            base.filter(stage=_STAGE_STAND_IN)
            .annotate(hit=hit)
            .order_by("-created_at", "-id")
            .values("id", "stage", "created_at", "hit")[:SEARCH_WALK_ROWS]
        )
        return per_stage(
            query, "(SELECT id, stage FROM ({sql}) AS walk_{n} WHERE hit LIMIT %s)", stage_list, after=(wanted,)
        )

    def all_matches(stage_list: list[str]) -> tuple[str, list[Any]]:
        # Every match of each stage from the index, the newest `wanted` kept (a top-N sort).
        query = rows.filter(stage=_STAGE_STAND_IN).order_by("-created_at", "-id").values("id", "stage", "created_at")
        return per_stage(query[:wanted], "SELECT * FROM ({sql}) AS newest_{n}", stage_list)

    counts: dict[str, int] = {}
    newest: dict[str, list[int]] = {}
    with transaction.atomic(using=connection.alias, savepoint=False), connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join('current_setting(%s)' for _ in _PLANNER_SAVED)}", list(_PLANNER_SAVED))
        saved = dict(zip(_PLANNER_SAVED, cursor.fetchone(), strict=True))
        _planner(cursor, _BITMAPS_ONLY)
        capped: list[str] = []
        if stages:
            cursor.execute(*from_index(stages))
            for stage, n, ids in cursor.fetchall():
                counts[stage] = min(int(n), SEARCH_COUNT_CAP)
                if n > SEARCH_COUNT_CAP:
                    capped.append(stage)
                else:
                    newest[stage] = list(ids or [])
        if capped:
            # Only lead_board_idx hands a stage's leads over in board order: with sorts off, the
            # arrivals index (newest first over every stage, then sorted) is not taken instead.
            _planner(
                cursor, {**saved, "enable_bitmapscan": "off", "enable_sort": "off", "enable_incremental_sort": "off"}
            )
            cursor.execute(*walked(capped))
            for stage in capped:
                newest[stage] = []
            for pk, stage in cursor.fetchall():  # each stage's in walk order, newest first
                newest[stage].append(pk)
            old = [stage for stage in capped if len(newest[stage]) < wanted]
            if old:
                _planner(cursor, {**saved, **_BITMAPS_ONLY})
                cursor.execute(*all_matches(old))
                for stage in old:
                    newest[stage] = []
                for pk, stage, _at in sorted(cursor.fetchall(), key=lambda row: (row[2], row[0]), reverse=True):
                    newest[stage].append(pk)
        # (On an error the transaction rolls back, and the settings with it.)
        _planner(cursor, saved)
    return counts, frozenset(capped), newest


def _counted_stages(
    filters: BoardFilters, now: datetime
) -> tuple[dict[str, int], dict[str, list[int]] | None, frozenset[str]]:
    """Per-stage counts for filters the counters cannot answer (search, "Arrived"): one grouped
    query over the rows the search index or the recency index selects. On PostgreSQL under a
    search, each stage's matches are counted up to `SEARCH_COUNT_CAP` and the same reads hand
    back the ids of its newest `CARDS_PER_COLUMN + 1` (newest first), so the columns need not
    read the matches again (`_search_stage_reads`)."""
    if filters.q and connection.vendor == "postgresql":
        counts, capped, newest = _search_stage_reads(filters, now, stages=list(PIPELINE_ORDER))
        return counts, newest, capped
    rows = board_leads(filters, now=now).order_by().values("stage").annotate(n=Count("created_at"))
    return {row["stage"]: row["n"] for row in rows}, None, frozenset()


def board_summary(filters: BoardFilters, *, now: datetime | None = None) -> BoardSummary:
    """Column counts, the recency bar and the sources in use, without reading the leads table:
    the counters (one query) answer the source, stage and unseen filters and the unseen figure;
    the recency bar is an index-only scan of the last week. Search and the "Arrived" filter add
    one query over the rows their index selects."""
    now = now or timezone.now()
    rows = _lead_count_rows()
    by_key = {(stage, source, unseen): total for stage, source, unseen, total, _changed in rows if total}
    counts = dict.fromkeys(PIPELINE_ORDER, 0)
    newest_ids = None
    capped: frozenset[str] = frozenset()
    if filters.q or filters.since in RECENCY_WINDOWS:
        counted, newest_ids, capped = _counted_stages(filters, now)
        counts.update(counted)
    else:
        for (stage, source, unseen), n in by_key.items():
            if filters.source and source != filters.source:
                continue
            if filters.stage and stage != filters.stage:
                continue
            if filters.unseen and not unseen:
                continue
            counts[stage] = counts.get(stage, 0) + n
    last_hour, last_day, last_week = recency_counts(now=now)
    unseen_total = sum(n for (_stage, _source, unseen), n in by_key.items() if unseen)
    return BoardSummary(
        counts=counts,
        recency=RecencyCounts(last_hour=last_hour, last_day=last_day, last_week=last_week, unseen=unseen_total),
        sources=sorted({source for (_stage, source, _unseen), n in by_key.items() if n > 0}),
        newest_ids=newest_ids,
        capped=capped,
        stamps=_stamps_of(rows),
    )


def board_column_leads(
    filters: BoardFilters,
    *,
    stages: list[str],
    per_column: int = CARDS_PER_COLUMN,
    now: datetime | None = None,
    newest_ids: dict[str, list[int]] | None = None,
) -> dict[str, list[Lead]]:
    """The newest `per_column + 1` leads of each stage (the extra one says whether there is more), ONE query.

    `newest_ids` (from `board_summary` under a search on PostgreSQL, ranked as here) names them
    already: then they are only looked up by primary key.

    Each stage is an index range scan on lead_board_idx, UNION-ed into one query: the same result
    as a ROW_NUMBER() window partitioned by stage, without numbering every row of a large table.
    """

    def build(_values: dict[str, Any]) -> QuerySet[Lead]:
        matching = board_leads(filters, now=now).order_by("-created_at", "-id").values("id")
        # A UNION ALL of one LIMITed range scan per stage, so the outer query looks the ids up by
        # primary key: an OR of `id IN (...)` makes PostgreSQL scan the whole table to test each row.
        parts: list[str] = []
        params: list[Any] = []
        for stage in stages:
            sql, part_params = matching.filter(stage=stage)[: per_column + 1].query.sql_with_params()
            parts.append(f"SELECT id FROM ({sql}) AS newest_{len(parts)}")  # noqa: S608 (Django's own SQL)
            params.extend(part_params)
        newest_per_stage = RawSQL(" UNION ALL ".join(parts), params)  # noqa: S611 (parameters stay parameters)
        return Lead.objects.filter(id__in=newest_per_stage).only(*CARD_FIELDS)

    if filters.q and connection.vendor == "postgresql" and (newest_ids is None or per_column > CARDS_PER_COLUMN):
        # Under a search, each column's newest matches read as `board_summary` reads them.
        _counts, _capped, newest_ids = _search_stage_reads(
            filters, now or timezone.now(), stages=stages, per_column=per_column
        )
    if newest_ids is not None and (per_column <= CARDS_PER_COLUMN or filters.q):
        wanted = [pk for stage in stages for pk in newest_ids.get(stage, [])[: per_column + 1]]
        leads = list(Lead.objects.filter(id__in=wanted).only(*CARD_FIELDS))
    elif _compilable(filters):
        # The board without a search or an "Arrived" filter: the SQL depends on the filters and
        # the columns only, so it is built and compiled once for them.
        key = ("board_column_leads", filters.cache_key(), tuple(stages), per_column)
        leads = compiled_instances(Lead, key, build, {})
    else:
        leads = list(build({}))
    ranked = sorted(leads, key=lambda lead: (lead.created_at, lead.pk), reverse=True)
    by_stage: dict[str, list[Lead]] = {stage: [] for stage in PIPELINE_ORDER}
    for lead in ranked:
        by_stage[lead.stage].append(lead)
    return by_stage


def board_column_page_leads(
    filters: BoardFilters,
    *,
    stage: str,
    after: tuple[datetime, int] | None,
    limit: int = CARDS_PER_COLUMN,
    now: datetime | None = None,
) -> tuple[list[Lead], str]:
    """One page of a column after the keyset cursor, and the cursor of the next page ('' at the end)."""
    queryset = board_leads(filters, now=now).filter(stage=stage).only(*CARD_FIELDS).order_by("-created_at", "-id")
    if after is not None:
        at, pk = after
        queryset = queryset.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=pk))
    leads = list(queryset[: limit + 1])
    more = len(leads) > limit
    leads = leads[:limit]
    return leads, (encode_cursor(leads[-1]) if more and leads else "")


def lead_for_page(public_id: Any) -> Lead:
    return Lead.objects.select_related("merged_into").get(public_id=public_id)


def lead_stage_history(lead: Lead) -> QuerySet[StageChange]:
    return lead.stage_changes.select_related("changed_by").order_by("-changed_at", "-id")


def board_value_totals(filters: BoardFilters, *, now: datetime | None = None) -> dict[str, dict[str, int]]:
    """Each stage's deal value in minor units, per currency, for the leads the filters match: ONE
    `SUM ... GROUP BY stage, value_currency` query (leads without a value count for nothing)."""

    def build(_values: dict[str, Any]) -> QuerySet[Lead, tuple[str, str, int | None]]:
        return (
            board_leads(filters, now=now)
            .filter(value_minor__isnull=False)
            .order_by()
            .values_list("stage", "value_currency")
            .annotate(total=Sum("value_minor"))
        )

    if _compilable(filters):
        rows = compiled_select(("board_value_totals", filters.cache_key()), build, {})
    else:
        rows = list(build({}))
    totals: dict[str, dict[str, int]] = {stage: {} for stage in PIPELINE_ORDER}
    for stage, currency, total in rows:
        totals.setdefault(stage, {})[currency] = int(total or 0)
    return totals


# --- The lead's timeline: this app's share ------------------------------------------------------
# The board (`board.selectors.lead_timeline`) merges these with each app's own entries.


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    title: str
    detail: str = ""
    actor: str = ""
    url: str = ""


TIMELINE_LIMIT = 200


def lead_event_entries(lead: Lead) -> list[TimelineEntry]:
    events = LeadEvent.objects.filter(lead=lead).order_by("-at", "-id")[:TIMELINE_LIMIT]
    return [TimelineEntry(at=event.at, kind=event.kind, title=event.title, detail=event.summary) for event in events]


def lead_stage_entries(lead: Lead) -> list[TimelineEntry]:
    changes = StageChange.objects.filter(lead=lead).order_by("-changed_at", "-id")[:TIMELINE_LIMIT]
    return [
        TimelineEntry(
            at=change.changed_at,
            kind="stage",
            title=f"Moved to {change.get_to_stage_display()}",
            detail=(f"From {change.get_from_stage_display()}" if change.from_stage else "")
            + (f" · {change.reason}" if change.reason else ""),
            actor=change.actor_label,
        )
        for change in changes
    ]


# --- What the leads app asks of the owner ("needs you" counts) ----------------------------------


def leads_unseen_count() -> int:
    """New leads nobody has looked at yet (from the counters, see `lead_counts`)."""
    return int(LeadCount.objects.filter(unseen=True).aggregate(total=Sum("n"))["total"] or 0)


def possible_duplicates_open_count() -> int:
    return possible_duplicates_open().count()
