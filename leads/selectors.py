"""Reads for the owner's board and the lead page.

Every board read is a fixed number of queries whatever the number of leads: the cards of all
columns come from one query (the newest rows of each stage, each an index range scan with a
LIMIT), the column counts, recency figures and sources from one aggregate, and "load more" pages a single column in the database with a keyset cursor
(created_at, id) that follows the `lead_board_idx` index.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from clientsflow.attention import Badge, badges_for
from leads.models import ALLOWED_MOVES, PIPELINE_ORDER, Lead, LeadEvent, Stage, StageChange

CARDS_PER_COLUMN = 20
CARD_FIELDS = ("id", "public_id", "name", "email", "phone", "company", "source", "stage", "created_at", "seen_at")

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
class MoveTarget:
    value: str
    label: str


@dataclass(frozen=True)
class CardConfirm:
    """Ask before acting, with a required reason, and update the card at once (static/leads/board.js).

    With JavaScript the board opens a dialog (`prompt`, a `reason_label` field, `confirm_label` and
    `keep_label` buttons), then POSTs `reason` (and `next`) to the action's URL with
    `Accept: application/json`; while it saves, the card's badge labelled `badge` (if any) reads
    `busy_label`. The URL answers `{"ok": true, "message": ..., "card": <fresh card HTML>}` or a 4xx
    `{"ok": false, "error": ...}`, which rolls the card back. Without JavaScript the action stays a
    plain "get" link, so its URL must also serve a confirmation page on GET.
    """

    prompt: str
    reason_label: str = "Reason"
    confirm_label: str = "Confirm"
    keep_label: str = "Keep it"
    busy_label: str = "Saving…"
    badge: str = ""
    detail: str = ""


@dataclass
class CardAction:
    """A per-card action another app offers (e.g. "Cancel booking" on booked cards).

    `method="post"` renders a small form (CSRF included) posting to `url`; "get" renders a link.
    A "get" action with `confirm` is done in place on the board (see CardConfirm).
    """

    label: str
    url: str
    method: str = "post"
    tone: str = "info"
    title: str = ""
    confirm: CardConfirm | None = None
    permission: str = ""  # shown only to users with it, e.g. "bookings.change_booking"


CardActionProvider = Callable[[list[int]], dict[int, list[CardAction]]]
_CARD_ACTIONS: dict[str, CardActionProvider] = {}


def register_card_actions(key: str, provider: CardActionProvider) -> None:
    """Offer actions on board cards. Like a badge provider: gets every card id of a page, ONE query."""
    _CARD_ACTIONS[key] = provider


def _card_actions_for(lead_ids: list[int]) -> dict[int, list[CardAction]]:
    autodiscover_modules("attention")
    result: dict[int, list[CardAction]] = {lead_id: [] for lead_id in lead_ids}
    if not lead_ids:
        return result
    for key in sorted(_CARD_ACTIONS):
        for lead_id, actions in _CARD_ACTIONS[key](lead_ids).items():
            result.setdefault(lead_id, []).extend(actions)
    return result


@dataclass
class Card:
    lead: Lead
    badges: list[Badge] = field(default_factory=list)
    actions: list[CardAction] = field(default_factory=list)

    @property
    def is_new(self) -> bool:
        return self.lead.seen_at is None

    @property
    def move_targets(self) -> list[MoveTarget]:
        allowed = ALLOWED_MOVES[Stage(self.lead.stage)]
        return [MoveTarget(s, Stage(s).label) for s in PIPELINE_ORDER if s in allowed]

    @property
    def open_targets(self) -> list[MoveTarget]:
        """Targets that need nothing more than a click (Lost asks for a reason)."""
        return [target for target in self.move_targets if target.value != Stage.LOST]

    @property
    def can_be_lost(self) -> bool:
        return Stage.LOST in ALLOWED_MOVES[Stage(self.lead.stage)]


@dataclass
class Column:
    stage: str
    label: str
    count: int
    cards: list[Card]
    next_cursor: str = ""


@dataclass
class RecencyCounts:
    last_hour: int
    last_day: int
    last_week: int
    unseen: int


def _filters_q(filters: BoardFilters, now: datetime) -> Q:
    condition = Q()
    if filters.q:
        condition &= Q(name__icontains=filters.q) | Q(email__icontains=filters.q) | Q(company__icontains=filters.q)
    if filters.source:
        condition &= Q(source=filters.source)
    if filters.stage:
        condition &= Q(stage=filters.stage)
    if filters.since in RECENCY_WINDOWS:
        condition &= Q(created_at__gte=now - RECENCY_WINDOWS[filters.since][1])
    if filters.unseen:
        condition &= Q(seen_at__isnull=True)
    return condition


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


def _cards(leads: list[Lead]) -> list[Card]:
    ids = [lead.pk for lead in leads]
    badges = badges_for(ids)
    actions = _card_actions_for(ids)
    return [Card(lead=lead, badges=badges.get(lead.pk, []), actions=actions.get(lead.pk, [])) for lead in leads]


def card_for(lead: Lead) -> Card:
    """One lead's card as the board shows it now: every app's badges and actions."""
    return _cards([lead])[0]


@dataclass
class BoardSummary:
    counts: dict[str, int]  # per stage, with the filters applied
    recency: RecencyCounts  # whole board, filters ignored
    sources: list[str]  # every source in use, for the filter menu


def board_summary(filters: BoardFilters, *, now: datetime | None = None) -> BoardSummary:
    """Column counts, the recency bar and the sources in use: ONE aggregate query.

    Grouped by (stage, source), a few dozen rows whatever the number of leads; the filters are a
    conditional count so the recency figures can ignore them in the same pass.
    """
    now = now or timezone.now()
    condition = _filters_q(filters, now)
    matching = Count("id", filter=condition) if condition else Count("id")
    rows = (
        Lead.objects.filter(merged_into__isnull=True)
        .order_by()
        .values("stage", "source")
        .annotate(
            n=matching,
            last_hour=Count("id", filter=Q(created_at__gte=now - RECENCY_WINDOWS["1h"][1])),
            last_day=Count("id", filter=Q(created_at__gte=now - RECENCY_WINDOWS["24h"][1])),
            last_week=Count("id", filter=Q(created_at__gte=now - RECENCY_WINDOWS["7d"][1])),
            unseen=Count("id", filter=Q(seen_at__isnull=True)),
        )
    )
    counts = dict.fromkeys(PIPELINE_ORDER, 0)
    totals = {"last_hour": 0, "last_day": 0, "last_week": 0, "unseen": 0}
    sources: set[str] = set()
    for row in rows:
        counts[row["stage"]] = counts.get(row["stage"], 0) + row["n"]
        for key in totals:
            totals[key] += row[key]
        sources.add(row["source"])
    return BoardSummary(counts=counts, recency=RecencyCounts(**totals), sources=sorted(sources))


def board_columns(
    filters: BoardFilters,
    *,
    per_column: int = CARDS_PER_COLUMN,
    now: datetime | None = None,
    summary: BoardSummary | None = None,
) -> list[Column]:
    """Every column of the board: counts (one query), the newest cards of all columns (one query)."""
    counts = (summary or board_summary(filters, now=now)).counts
    stages = [filters.stage] if filters.stage in PIPELINE_ORDER else PIPELINE_ORDER
    now = now or timezone.now()
    # The newest `per_column + 1` ids of each stage (the extra one says whether there is more),
    # each an index range scan on lead_board_idx, OR-ed into ONE query. Same result as a
    # ROW_NUMBER() window partitioned by stage, without numbering every row of a large table.
    matching = board_leads(filters, now=now).order_by("-created_at", "-id").values("id")
    newest_per_stage = Q()
    for stage in stages:
        newest_per_stage |= Q(id__in=matching.filter(stage=stage)[: per_column + 1])
    ranked = sorted(
        Lead.objects.filter(newest_per_stage).only(*CARD_FIELDS),
        key=lambda lead: (lead.created_at, lead.pk),
        reverse=True,
    )
    by_stage: dict[str, list[Lead]] = {stage: [] for stage in PIPELINE_ORDER}
    for lead in ranked:
        by_stage[lead.stage].append(lead)
    shown = {stage: leads[:per_column] for stage, leads in by_stage.items()}
    cards = iter(_cards([lead for stage in stages for lead in shown[stage]]))
    columns = []
    for stage in stages:
        column_cards = [next(cards) for _ in shown[stage]]
        more = len(by_stage[stage]) > per_column
        columns.append(
            Column(
                stage=stage,
                label=Stage(stage).label,
                count=counts[stage],
                cards=column_cards,
                next_cursor=encode_cursor(shown[stage][-1]) if more else "",
            )
        )
    return columns


def board_column_page(
    filters: BoardFilters,
    *,
    stage: str,
    after: tuple[datetime, int] | None,
    limit: int = CARDS_PER_COLUMN,
    now: datetime | None = None,
) -> tuple[list[Card], str]:
    """One page of a column after the keyset cursor, and the cursor of the next page ('' at the end)."""
    queryset = board_leads(filters, now=now).filter(stage=stage).only(*CARD_FIELDS).order_by("-created_at", "-id")
    if after is not None:
        at, pk = after
        queryset = queryset.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=pk))
    leads = list(queryset[: limit + 1])
    more = len(leads) > limit
    leads = leads[:limit]
    return _cards(leads), (encode_cursor(leads[-1]) if more and leads else "")


def lead_for_page(public_id: Any) -> Lead:
    return Lead.objects.select_related("merged_into").get(public_id=public_id)


def lead_stage_history(lead: Lead) -> QuerySet[StageChange]:
    return lead.stage_changes.select_related("changed_by").order_by("-changed_at", "-id")


# --- The lead's timeline ------------------------------------------------------------------------
# Entries come from sources: this app's events and stage changes, and later other apps'
# (messages, replies, bookings, calls, proposals, payments). An app adds its own by registering a
# source in `<app>/timeline.py` (autodiscovered):
#
#     @register_timeline_source("bookings")
#     def booking_entries(lead: Lead) -> list[TimelineEntry]:
#         return [TimelineEntry(at=b.created_at, kind="booking", title="Call booked", ...) for b in ...]


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    title: str
    detail: str = ""
    actor: str = ""
    url: str = ""


TimelineSource = Callable[[Lead], Iterable[TimelineEntry]]
_TIMELINE_SOURCES: dict[str, TimelineSource] = {}
TIMELINE_LIMIT = 200


def register_timeline_source(key: str) -> Callable[[TimelineSource], TimelineSource]:
    def decorator(func: TimelineSource) -> TimelineSource:
        _TIMELINE_SOURCES[key] = func
        return func

    return decorator


@register_timeline_source("events")
def _event_entries(lead: Lead) -> list[TimelineEntry]:
    events = LeadEvent.objects.filter(lead=lead).order_by("-at", "-id")[:TIMELINE_LIMIT]
    return [TimelineEntry(at=event.at, kind=event.kind, title=event.title, detail=event.summary) for event in events]


@register_timeline_source("stages")
def _stage_entries(lead: Lead) -> list[TimelineEntry]:
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


def lead_timeline(lead: Lead, *, limit: int = TIMELINE_LIMIT) -> list[TimelineEntry]:
    """Everything that happened to the lead, newest first, from every registered source."""
    autodiscover_modules("timeline")
    entries: list[TimelineEntry] = []
    for key in sorted(_TIMELINE_SOURCES):
        entries.extend(_TIMELINE_SOURCES[key](lead))
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]
