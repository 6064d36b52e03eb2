"""What the owner's board shows, wired here by direct calls: each "needs you" item, card badge,
card action and timeline entry is one call to the app that owns the query.

Card badges and actions are asked for a whole page of cards at once; each app's batch selector
answers with one query, so a board render costs the same number of queries whatever the number
of leads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from billing.selectors import (
    failed_payments_count,
    payment_badges,
    payments_needing_review_count,
    payments_received_between,
)
from bookings.selectors import (
    blocked_invites_count,
    booking_badges,
    booking_card_actions,
    cancellations_untold_count,
    rebook_count,
)
from calls.selectors import (
    calls_sync_failed_count,
    calls_transcript_missing_count,
    calls_unmatched_count,
    failed_sync_badges,
)
from classify.selectors import classification_timeline, positive_waiting_count, reply_badges, review_queue_count
from clientsflow.integrations import integration_alerted_count, integration_label, integration_url
from clientsflow.notify import notification_problems_count
from clientsflow.site import site_settings
from leads.cards import Badge, CardAction
from leads.models import ALLOWED_MOVES, PIPELINE_ORDER, Lead, Stage
from leads.next_steps import going_cold_count, next_step_badges, tasks_due_count
from leads.selectors import (
    CARDS_PER_COLUMN,
    TIMELINE_LIMIT,
    BoardFilters,
    BoardSummary,
    TimelineEntry,
    board_column_leads,
    board_column_page_leads,
    board_summary,
    board_value_totals,
    encode_cursor,
    lead_event_entries,
    lead_stage_entries,
    leads_unseen_count,
    possible_duplicates_open_count,
)
from outreach.selectors import drafts_awaiting_count, outbound_badges, replies_unmatched_count, sending_problems_count

# --- "Needs you" ---------------------------------------------------------------------------------


# A count that grows with the table (every old, untouched lead) is counted up to this and shown
# as "1,000+" beyond it: the owner acts on the list, not the exact figure.
NEEDS_YOU_CAP = 1000


@dataclass(frozen=True)
class NeedsYouCount:
    key: str
    label: str
    url: str  # the admin changelist where the owner deals with them
    count: int
    more: bool = False  # more than `count` (counted only up to NEEDS_YOU_CAP)

    @property
    def shown(self) -> str:
        return f"{self.count:,}+" if self.more else str(self.count)


def _capped(key: str, label: str, url: str, counted: int) -> NeedsYouCount:
    """`counted` is a count taken up to NEEDS_YOU_CAP + 1."""
    return NeedsYouCount(key, label, url, min(counted, NEEDS_YOU_CAP), more=counted > NEEDS_YOU_CAP)


def _integration(vendor: str) -> NeedsYouCount:
    return NeedsYouCount(
        f"integration_{vendor}",
        f"Integration failing: {integration_label(vendor)}",
        integration_url(vendor),
        integration_alerted_count(vendor),
    )


def needs_you() -> list[NeedsYouCount]:
    """Everything waiting for a person, most urgent first: one count query per item."""
    return [
        _integration("fireflies"),
        _integration("notion"),
        _integration("stripe"),
        NeedsYouCount(
            "new_leads_unseen",
            "New leads not yet seen",
            "/admin/leads/lead/?seen_at__isnull=True&merged_into__isnull=True",
            leads_unseen_count(),
        ),
        NeedsYouCount("tasks_due", "Tasks overdue or due today", "/board/next-steps/#due", tasks_due_count()),
        _capped("going_cold", "Leads going cold", "/board/next-steps/#cold", going_cold_count(limit=NEEDS_YOU_CAP + 1)),
        NeedsYouCount(
            "outbound_drafts",
            "Drafts awaiting approval",
            "/admin/outreach/outboundmessage/?status__exact=draft",
            drafts_awaiting_count(),
        ),
        NeedsYouCount(
            "notification_problems",
            "Notifications that may not have reached you",
            "/admin/clientsflow/notification/?attention=1",
            notification_problems_count(),
        ),
        NeedsYouCount(
            "outbound_problems",
            "Emails failed or with unknown outcome",
            "/admin/outreach/outboundmessage/?status__in=failed,unknown",
            sending_problems_count(),
        ),
        NeedsYouCount(
            "replies_unmatched",
            "Replies not matched to a lead",
            "/admin/outreach/inboundreply/?matched_by__exact=unmatched",
            replies_unmatched_count(),
        ),
        NeedsYouCount(
            "possible_duplicates",
            "Possible duplicate leads to check",
            "/admin/leads/possibleduplicate/?status__exact=open",
            possible_duplicates_open_count(),
        ),
        NeedsYouCount(
            "classify_positive",
            "Positive replies to answer",
            "/admin/classify/classification/?positive_waiting=1",
            positive_waiting_count(),
        ),
        NeedsYouCount(
            "classify_review",
            "Replies to review",
            "/admin/classify/classification/?needs_review__exact=1",
            review_queue_count(),
        ),
        NeedsYouCount(
            "booking_invites_blocked",
            "Booking invites blocked",
            "/admin/bookings/booking/?invite_status__exact=blocked&upcoming=active",
            blocked_invites_count(),
        ),
        NeedsYouCount(
            "booking_cancellations_untold",
            "Cancelled calls the lead was not told about",
            "/admin/bookings/booking/?invite_status__exact=blocked&status__exact=cancelled&upcoming=not_over",
            cancellations_untold_count(),
        ),
        NeedsYouCount("bookings_rebook", "Cancelled calls to rebook", "/board/?stage=replied", rebook_count()),
        NeedsYouCount(
            "billing_payments_review",
            "Payments needing review",
            "/admin/billing/payment/?status__exact=review&reviewed_at__isnull=True",
            payments_needing_review_count(),
        ),
        NeedsYouCount(
            "billing_failed_payments",
            "Failed payments",
            "/admin/billing/payment/?status__exact=failed",
            failed_payments_count(),
        ),
        NeedsYouCount(
            "calls_unmatched",
            "Calls to match to a lead",
            "/admin/calls/call/?match_method__exact=unmatched&status__exact=fetched",
            calls_unmatched_count(),
        ),
        NeedsYouCount(
            "calls_transcript_missing",
            "Calls whose transcript never arrived",
            "/admin/calls/call/?transcript=missing",
            calls_transcript_missing_count(),
        ),
        NeedsYouCount(
            "calls_notion_failed",
            "Calls not written to Notion",
            "/admin/calls/call/?notion_status__exact=failed",
            calls_sync_failed_count(),
        ),
    ]


# --- Cards ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardExtras:
    """What the other apps put on a card: their badges and actions. They read those apps' rows
    only, never the lead's own (its stage, its fields), and every app that changes them bumps the
    board version; so the board caches them per lead under that version."""

    badges: list[Badge]
    actions: list[CardAction]


def card_extras(lead_ids: list[int]) -> dict[int, CardExtras]:
    """Every other app's badges and actions for these cards: one query per app."""
    badges: dict[int, list[Badge]] = {lead_id: [] for lead_id in lead_ids}
    if not lead_ids:
        return {}
    for some in (
        payment_badges(lead_ids),
        booking_badges(lead_ids),
        failed_sync_badges(lead_ids),
        reply_badges(lead_ids),
        outbound_badges(lead_ids),
    ):
        for lead_id, found in some.items():
            badges[lead_id].extend(found)
    actions = card_actions(lead_ids)
    return {lead_id: CardExtras(badges[lead_id], actions[lead_id]) for lead_id in lead_ids}


def card_badges(lead_ids: list[int]) -> dict[int, list[Badge]]:
    """Every card's badges: one query per app, whatever the number of cards."""
    extras = card_extras(lead_ids)
    steps = next_step_badges(lead_ids)
    return {lead_id: [*extras[lead_id].badges, *steps.get(lead_id, [])] for lead_id in lead_ids}


def card_actions(lead_ids: list[int]) -> dict[int, list[CardAction]]:
    """Actions other apps offer on cards (today: cancelling a booked call), one query each."""
    result: dict[int, list[CardAction]] = {lead_id: [] for lead_id in lead_ids}
    if not lead_ids:
        return result
    for lead_id, actions in booking_card_actions(lead_ids).items():
        result[lead_id].extend(actions)
    return result


@dataclass
class MoveTarget:
    value: str
    label: str


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


@dataclass(frozen=True)
class MoneyTotal:
    """An amount in the default currency, and whether other currencies were left out of it."""

    minor: int
    currency: str
    other_currencies: tuple[str, ...] = ()


class ShownCount:
    """A column's count as shown: "1,000+" when it was counted only up to the cap (a search on
    PostgreSQL, `leads.selectors.SEARCH_COUNT_CAP`), with a title saying so."""

    count: int
    capped: bool

    @property
    def shown(self) -> str:
        return f"{self.count:,}+" if self.capped else str(self.count)


@dataclass
class Column(ShownCount):
    stage: str
    label: str
    count: int
    cards: list[Card]
    next_cursor: str = ""
    total: MoneyTotal | None = None  # the column's deal value (set by the view from `board_money`)
    capped: bool = False  # `count` is the cap and there are more (see `ShownCount`)


def cards_for(leads: list[Lead], *, extras: dict[int, CardExtras] | None = None) -> list[Card]:
    """These leads' cards: every app's badges and actions, one query per app whatever the number
    (the other apps' part from `extras` when the caller has it). The leads app's own badges (tasks,
    going cold) depend on the lead's stage and are always read."""
    ids = [lead.pk for lead in leads]
    if extras is None:
        extras = card_extras(ids)
    steps = next_step_badges(ids)
    return [
        Card(
            lead=lead,
            badges=[*extras[lead.pk].badges, *steps.get(lead.pk, [])],
            actions=list(extras[lead.pk].actions),
        )
        for lead in leads
    ]


def card_for(lead: Lead) -> Card:
    """One lead's card as the board shows it now: every app's badges and actions."""
    return cards_for([lead])[0]


def board_stages(filters: BoardFilters) -> list[str]:
    """The columns the board shows for these filters, in pipeline order."""
    return [filters.stage] if filters.stage in PIPELINE_ORDER else list(PIPELINE_ORDER)


@dataclass
class ColumnLeads:
    """A column's newest leads and the cursor of its next page ('' when there is none)."""

    stage: str
    leads: list[Lead]
    next_cursor: str


def board_column_newest(
    filters: BoardFilters,
    *,
    stages: list[str],
    per_column: int = CARDS_PER_COLUMN,
    now: datetime | None = None,
    summary: BoardSummary | None = None,
) -> list[ColumnLeads]:
    """The newest `per_column` leads of each of `stages` (one query), without their cards; under a
    search, from the ids the `summary` ranked with its counts when it has them."""
    by_stage = board_column_leads(
        filters, stages=stages, per_column=per_column, now=now, newest_ids=summary.newest_ids if summary else None
    )
    columns = []
    for stage in stages:
        shown = by_stage[stage][:per_column]
        more = len(by_stage[stage]) > per_column
        columns.append(ColumnLeads(stage, shown, encode_cursor(shown[-1]) if more else ""))
    return columns


def board_columns(
    filters: BoardFilters,
    *,
    per_column: int = CARDS_PER_COLUMN,
    now: datetime | None = None,
    summary: BoardSummary | None = None,
    stages: list[str] | None = None,
) -> list[Column]:
    """The board's columns (or only `stages`): counts (the counters, one query), the newest cards
    of those columns (one query), then each app's badges and actions for those cards (one query each)."""
    now = now or timezone.now()
    summary_read = summary or board_summary(filters, now=now)
    counts = summary_read.counts
    if stages is None:
        stages = board_stages(filters)
    if not stages:
        return []
    newest = board_column_newest(filters, stages=stages, per_column=per_column, now=now)
    cards = iter(cards_for([lead for column in newest for lead in column.leads]))
    return [
        Column(
            stage=column.stage,
            label=Stage(column.stage).label,
            count=counts[column.stage],
            capped=column.stage in summary_read.capped,
            cards=[next(cards) for _ in column.leads],
            next_cursor=column.next_cursor,
        )
        for column in newest
    ]


def board_column_page(
    filters: BoardFilters,
    *,
    stage: str,
    after: tuple[datetime, int] | None,
    limit: int = CARDS_PER_COLUMN,
    now: datetime | None = None,
) -> tuple[list[Card], str]:
    """One page of a column's cards after the keyset cursor, and the cursor of the next page."""
    leads, next_cursor = board_column_page_leads(filters, stage=stage, after=after, limit=limit, now=now)
    return cards_for(leads), next_cursor


# --- The lead's timeline -------------------------------------------------------------------------


def lead_timeline(lead: Lead, *, limit: int = TIMELINE_LIMIT) -> list[TimelineEntry]:
    """Everything that happened to the lead, newest first: how its replies were classified, its
    events (every app records through the timeline service) and its stage changes."""
    entries = [*classification_timeline(lead), *lead_event_entries(lead), *lead_stage_entries(lead)]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]


# --- Money on the board: column totals, the weighted forecast, this month's revenue --------------

# Stages whose deals are still open: the forecast weighs these (paid is revenue, lost is gone).
OPEN_STAGES = [stage for stage in PIPELINE_ORDER if stage not in (Stage.PAID, Stage.LOST)]


def _in_default(per_currency: dict[str, int], currency: str) -> MoneyTotal:
    others = tuple(sorted(code for code, amount in per_currency.items() if code != currency and amount))
    return MoneyTotal(per_currency.get(currency, 0), currency, others)


@dataclass(frozen=True)
class BoardMoney:
    columns: dict[str, MoneyTotal]  # per stage, the filters applied
    forecast: MoneyTotal  # open stages, each weighted by its win probability
    paid_this_month: MoneyTotal  # payments received since the 1st, in the owner's zone


def month_start(now: datetime) -> datetime:
    """Midnight on the 1st of `now`'s month in the owner's zone (an aware datetime)."""
    local = now.astimezone(ZoneInfo(settings.OWNER_TIMEZONE))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def board_money(filters: BoardFilters, *, now: datetime | None = None) -> BoardMoney:
    """Column totals (one SUM grouped by stage and currency), the weighted forecast from them and
    the settings' stage probabilities, and this month's revenue (one billing query)."""
    now = now or timezone.now()
    config = site_settings()
    currency = config.default_currency.upper()
    totals = board_value_totals(filters, now=now)
    columns = {stage: _in_default(totals.get(stage, {}), currency) for stage in PIPELINE_ORDER}
    weighted: dict[str, int] = {}
    for stage in OPEN_STAGES:
        for code, amount in totals.get(stage, {}).items():
            # Integer arithmetic, rounded half up once per stage: no floats near money.
            weighted[code] = weighted.get(code, 0) + (amount * config.stage_probability(stage) + 50) // 100
    paid = payments_received_between(start=month_start(now), end=now)
    return BoardMoney(
        columns=columns,
        forecast=_in_default(weighted, currency),
        paid_this_month=_in_default(paid, currency),
    )
