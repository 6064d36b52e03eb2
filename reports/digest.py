"""The owner's daily digest: today's calls, what needs you, overdue tasks, yesterday's numbers and
integration alerts, built from each app's selectors and models (never from the board, a sibling).

`digest_build(day=...)` reads; `digest_render` turns it into a subject, a plain-text part and an
HTML part; `digest_send` hands it to the owner's notifier under the key `digest:YYYY-MM-DD`, so a
day's digest goes out once however often it is sent (two dispatchers, a rerun, the command).
The dispatcher job `owner_digest` (reports/jobs.py) sends it at the settings' `digest_time`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import F, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from billing import money
from billing.models import Payment, Proposal
from billing.selectors import failed_payments_count, payments_needing_review_count
from bookings.ics import booking_location
from bookings.models import Booking
from bookings.selectors import blocked_invites_count, bookings_to_rebook, cancellations_untold
from calls.models import Call
from calls.selectors import calls_sync_failed_count, calls_transcript_missing, calls_unmatched_count
from classify.selectors import positive_waiting, review_queue
from clientsflow.integrations import integration_label
from clientsflow.models import IntegrationStatus, Notification
from clientsflow.notify import absolute_link, notification_problems, owner_notify
from clientsflow.site import site_settings
from leads.models import Lead
from leads.next_steps import going_cold_leads, tasks_due
from leads.selectors import leads_unseen_count, possible_duplicates_open_count
from outreach.models import InboundReply
from outreach.selectors import drafts_awaiting_count, replies_unmatched_count, sending_problems_count
from reports.periods import owner_zone

FIRST_ITEMS = 3


@dataclass(frozen=True)
class DigestCall:
    when: str  # owner-local time
    name: str
    title: str
    join: str  # Meet link or the event type's location
    lead_url: str


@dataclass(frozen=True)
class NeedsItem:
    label: str
    count: int
    url: str
    first: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DigestTask:
    title: str
    due: str
    lead_name: str
    lead_url: str


@dataclass(frozen=True)
class Yesterday:
    new_leads_by_source: dict[str, int]
    replies_by_label: dict[str, int]
    bookings: int
    calls: int
    proposals_sent: int
    revenue: dict[str, int]  # currency -> minor units paid (less refunds)

    @property
    def new_leads(self) -> int:
        return sum(self.new_leads_by_source.values())

    @property
    def replies(self) -> int:
        return sum(self.replies_by_label.values())

    @property
    def revenue_display(self) -> list[str]:
        return [money.format_money(amount, currency) for currency, amount in sorted(self.revenue.items())]


@dataclass(frozen=True)
class Digest:
    day: date
    agency_name: str
    calls: list[DigestCall]
    needs_you: list[NeedsItem]
    overdue_tasks: list[DigestTask]
    yesterday: Yesterday
    alerts: list[str]
    board_url: str

    @property
    def needs_you_total(self) -> int:
        return sum(item.count for item in self.needs_you)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=owner_zone())
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=owner_zone())
    return start, end


def _lead_url(lead: Any) -> str:
    return absolute_link(reverse("board:lead-detail", args=[lead.public_id]))


def todays_calls(day: date) -> list[DigestCall]:
    start, end = _day_bounds(day)
    bookings = (
        Booking.objects.filter(status__in=Booking.ACTIVE_STATUSES, start_at__gte=start, start_at__lt=end)
        .select_related("event_type", "lead")
        .order_by("start_at", "id")
    )
    zone = owner_zone()
    return [
        DigestCall(
            when=f"{b.start_at.astimezone(zone):%H:%M}",
            name=b.name or b.lead.name,
            title=b.event_type.title,
            join=booking_location(b),
            lead_url=_lead_url(b.lead),
        )
        for b in bookings
    ]


def _who(lead: Any, fallback: str = "") -> str:
    return (lead.name or lead.email) if lead is not None else fallback


def needs_you_items(*, now: datetime | None = None) -> list[NeedsItem]:
    """What waits for the owner: a count per kind, with the first few named where there is a list
    (the overdue tasks have their own section; the board's "Needs you" counts them with today's)."""
    now = now or timezone.now()
    due_later_today = tasks_due(now=now).filter(due_at__gte=now)
    cold = going_cold_leads(now=now)
    positive = positive_waiting().select_related("reply__lead").order_by("created_at")
    review = review_queue()
    rebook = bookings_to_rebook()
    problems = notification_problems().order_by("created_at", "pk")
    untold = cancellations_untold().select_related("lead").order_by("start_at", "pk")
    missing_transcripts = calls_transcript_missing(now=now).only("title", "fireflies_id", "fetch_attempts")
    items = [
        NeedsItem(
            "Positive replies to answer",
            positive.count(),
            "/admin/classify/classification/?positive_waiting=1",
            [_who(c.reply.lead, c.reply.from_email) for c in positive[:FIRST_ITEMS]],
        ),
        NeedsItem(
            "Replies to review",
            review.count(),
            "/admin/classify/classification/?needs_review__exact=1",
            [_who(c.reply.lead, c.reply.from_email) for c in review[:FIRST_ITEMS]],
        ),
        NeedsItem(
            "Cancelled calls to rebook",
            rebook.count(),
            "/board/?stage=replied",
            [f"{_who(b.lead, b.name)} ({b.cancel_reason or 'no reason given'})" for b in rebook[:FIRST_ITEMS]],
        ),
        NeedsItem(
            "Tasks due later today",
            due_later_today.count(),
            "/board/next-steps/#due",
            [f"{t.title} ({_who(t.lead)})" for t in due_later_today[:FIRST_ITEMS]],
        ),
        NeedsItem(
            "Leads going cold", cold.count(), "/board/next-steps/#cold", [_who(lead) for lead in cold[:FIRST_ITEMS]]
        ),
        NeedsItem(
            "Drafts awaiting approval", drafts_awaiting_count(), "/admin/outreach/outboundmessage/?status__exact=draft"
        ),
        NeedsItem(
            "Notifications that may not have reached you",
            problems.count(),
            "/admin/clientsflow/notification/?attention=1",
            [f"{row.subject} ({row.get_status_display().lower()})" for row in problems[:FIRST_ITEMS]],
        ),
        NeedsItem(
            "Emails failed or with unknown outcome",
            sending_problems_count(),
            "/admin/outreach/outboundmessage/?status__in=failed,unknown",
        ),
        NeedsItem(
            "Booking invites blocked",
            blocked_invites_count(),
            "/admin/bookings/booking/?invite_status__exact=blocked&upcoming=active",
        ),
        NeedsItem(
            "Cancelled calls the lead was not told about",
            untold.count(),
            "/admin/bookings/booking/?invite_status__exact=blocked&status__exact=cancelled&upcoming=not_over",
            [
                f"{_who(b.lead, b.name)} ({b.start_at.astimezone(owner_zone()):%a %-d %b %H:%M})"
                for b in untold[:FIRST_ITEMS]
            ],
        ),
        NeedsItem(
            "Payments needing review",
            payments_needing_review_count(),
            "/admin/billing/payment/?status__exact=review&reviewed_at__isnull=True",
        ),
        NeedsItem("Failed payments", failed_payments_count(), "/admin/billing/payment/?status__exact=failed"),
        NeedsItem(
            "Calls to match to a lead",
            calls_unmatched_count(),
            "/admin/calls/call/?match_method__exact=unmatched&status__exact=fetched",
        ),
        NeedsItem(
            "Calls whose transcript never arrived",
            missing_transcripts.count(),
            "/admin/calls/call/?transcript=missing",
            [f"{c.title or c.fireflies_id} ({c.fetch_attempts} tries)" for c in missing_transcripts[:FIRST_ITEMS]],
        ),
        NeedsItem(
            "Calls not written to Notion", calls_sync_failed_count(), "/admin/calls/call/?notion_status__exact=failed"
        ),
        NeedsItem(
            "Replies not matched to a lead",
            replies_unmatched_count(),
            "/admin/outreach/inboundreply/?matched_by__exact=unmatched",
        ),
        NeedsItem(
            "Possible duplicate leads to check",
            possible_duplicates_open_count(),
            "/admin/leads/possibleduplicate/?status__exact=open",
        ),
        NeedsItem(
            "New leads not yet seen",
            leads_unseen_count(),
            "/admin/leads/lead/?seen_at__isnull=True&merged_into__isnull=True",
        ),
    ]
    return [NeedsItem(item.label, item.count, absolute_link(item.url), item.first) for item in items if item.count]


def overdue_tasks(*, now: datetime, limit: int = 10) -> list[DigestTask]:
    """Open tasks past their due time, oldest first."""
    zone = owner_zone()
    tasks = tasks_due(now=now, overdue_only=True)[:limit]
    return [
        DigestTask(
            title=t.title,
            due=f"{t.due_at.astimezone(zone):%a %-d %b %H:%M}",
            lead_name=_who(t.lead),
            lead_url=_lead_url(t.lead),
        )
        for t in tasks
    ]


def yesterdays_numbers(day: date) -> Yesterday:
    start, end = _day_bounds(day - timedelta(days=1))
    leads = Counter(
        Lead.objects.filter(created_at__gte=start, created_at__lt=end, merged_into__isnull=True).values_list(
            "source", flat=True
        )
    )
    replies: Counter[str] = Counter()
    rows = InboundReply.objects.filter(received_at__gte=start, received_at__lt=end).values_list(
        "classification__final_label", "classification__label"
    )
    for final_label, label in rows:
        replies[final_label or label or "not classified yet"] += 1
    revenue_rows = (
        Payment.objects.filter(
            status__in=[Payment.Status.PAID, Payment.Status.REFUNDED], paid_at__gte=start, paid_at__lt=end
        )
        .values("currency")
        .annotate(amount=Sum(F("amount_minor") - F("refunded_minor")))
        .order_by("currency")
    )
    return Yesterday(
        new_leads_by_source=dict(sorted(leads.items(), key=lambda kv: (-kv[1], kv[0]))),
        replies_by_label=dict(sorted(replies.items(), key=lambda kv: (-kv[1], kv[0]))),
        bookings=Booking.objects.filter(created_at__gte=start, created_at__lt=end).count(),
        calls=Call.objects.filter(started_at__gte=start, started_at__lt=end).count(),
        proposals_sent=Proposal.objects.filter(sent_at__gte=start, sent_at__lt=end).count(),
        revenue={row["currency"]: int(row["amount"]) for row in revenue_rows},
    )


def integration_alerts() -> list[str]:
    rows = IntegrationStatus.objects.filter(alerted_at__isnull=False).order_by("vendor")
    return [
        f"{integration_label(row.vendor)} has been failing since "
        f"{row.failing_since.astimezone(owner_zone()):%a %-d %b %H:%M}"
        f" ({row.consecutive_failures} failures): {row.last_error}"
        if row.failing_since
        else f"{integration_label(row.vendor)}: {row.last_error}"
        for row in rows
    ]


def digest_build(*, day: date, now: datetime | None = None) -> Digest:
    """The digest for the owner's `day` (today's calls are that day's; the numbers are the day before)."""
    now = now or timezone.now()
    return Digest(
        day=day,
        agency_name=site_settings().agency_name,
        calls=todays_calls(day),
        needs_you=needs_you_items(now=now),
        overdue_tasks=overdue_tasks(now=now),
        yesterday=yesterdays_numbers(day),
        alerts=integration_alerts(),
        board_url=absolute_link("/board/"),
    )


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    text: str
    html: str


def digest_render(digest: Digest) -> RenderedDigest:
    calls = len(digest.calls)
    subject = (
        f"Your day, {digest.day:%a %-d %b}: {calls} call{'' if calls == 1 else 's'}, "
        f"{digest.needs_you_total} waiting for you"
    )
    context = {"digest": digest, "subject": subject, "brand_colour": site_settings().brand_colour}
    text = render_to_string("reports/digest_email.txt", context).strip() + "\n"
    html = render_to_string("reports/digest_email.html", context)
    return RenderedDigest(subject=subject, text=text, html=html)


def digest_send(*, day: date, now: datetime | None = None) -> Notification | None:
    """Send `day`'s digest to the owner once. None when it was already sent (or digests are off)."""
    if Notification.objects.filter(key=digest_key(day)).exists():
        return None
    rendered = digest_render(digest_build(day=day, now=now))
    return owner_notify(
        kind="digest",
        key=digest_key(day),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        link="/board/",
    )


def digest_key(day: date) -> str:
    return f"digest:{day.isoformat()}"


def owner_today(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(owner_zone()).date()
