"""Each report's numbers against an independent count: the seeded rows read back and counted in
plain Python, with the report's own definitions written out again here."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from datetime import timedelta
from math import ceil

import pytest

from billing.models import Payment, Proposal
from bookings.models import Booking
from calls.models import Call
from classify.models import Classification, Label
from leads.models import PIPELINE_ORDER, Lead, LeadEvent, StageChange
from outreach.models import InboundReply, OutboundMessage, OutreachEventKind, SequenceStep
from reports.periods import owner_today, owner_zone, period_for
from reports.selectors.bookings import MATCH_WINDOW, bookings_report
from reports.selectors.classification import classification_report
from reports.selectors.funnel import FUNNEL_STAGES, funnel_report
from reports.selectors.outreach import outreach_report
from reports.selectors.revenue import STATUS_WEIGHTS, revenue_report
from reports.selectors.time_in_stage import STALL_DAYS, time_in_stage_report

pytestmark = pytest.mark.django_db


def _in(value, period) -> bool:  # type: ignore[no-untyped-def]
    return value is not None and period.start_at <= value < period.end_at


@pytest.mark.parametrize("source", ["", "ghl"])
def test_funnel_matches_a_count_over_the_rows(seeded, period, source):
    period = replace(period, source=source)
    leads = {lead.id: lead for lead in Lead.objects.all() if not source or lead.source == source}
    furthest: dict[int, int] = {}
    for change in StageChange.objects.all():
        if change.lead_id in leads and _in(change.changed_at, period) and change.to_stage in FUNNEL_STAGES[1:]:
            furthest[change.lead_id] = max(furthest.get(change.lead_id, 0), FUNNEL_STAGES.index(change.to_stage))
    expected: dict[str, list[int]] = defaultdict(lambda: [0] * len(FUNNEL_STAGES))
    for lead in leads.values():
        for key in ("", lead.source):
            if _in(lead.created_at, period):
                expected[key][0] += 1
            for i in range(1, furthest.get(lead.id, 0) + 1):
                expected[key][i] += 1

    funnel = funnel_report(period=period)

    assert funnel.reached[""] == expected[""]
    assert funnel.reached[""][0] > 0 and funnel.reached[""][3] > 0  # the seed reaches the middle
    for lead_source in funnel.sources:
        assert funnel.reached[lead_source] == expected[lead_source]
    assert funnel.sources == ([source] if source else ["ghl", "referral", "website"])
    counts = expected[""]
    assert funnel.conversion()[0] == pytest.approx(counts[1] / counts[0])
    assert funnel.to_paid()[0] == pytest.approx(counts[-1] / counts[0])


def _nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[ceil(p * len(ordered)) - 1]


def test_time_in_stage_matches_the_stays_in_the_history(seeded, period, now):
    by_lead = defaultdict(list)
    for change in StageChange.objects.order_by("changed_at", "id"):
        by_lead[change.lead_id].append(change)
    finished, open_now, stalled = defaultdict(list), Counter(), Counter()
    for changes in by_lead.values():
        for this, following in zip(changes, [*changes[1:], None], strict=True):
            if following is not None and _in(this.changed_at, period):
                finished[this.to_stage].append((following.changed_at - this.changed_at).total_seconds() / 86400)

    for lead in Lead.objects.all():
        open_now[lead.stage] += 1
        stalled[lead.stage] += (lead.stage_changed_at or lead.created_at) < now - timedelta(days=STALL_DAYS)

    report = {row.stage: row for row in time_in_stage_report(period=period, now=now)}

    assert list(report) == PIPELINE_ORDER
    assert sum(len(v) for v in finished.values()) > 20
    assert sum(stalled.values()) > 0
    for stage in PIPELINE_ORDER:
        row = report[stage]
        assert row.finished == len(finished[stage])
        assert row.open_now == open_now[stage]
        assert row.stalled == stalled[stage]
        if finished[stage]:
            assert row.median_days == pytest.approx(_nearest_rank(finished[stage], 0.5), abs=1e-4)
            assert row.p90_days == pytest.approx(_nearest_rank(finished[stage], 0.9), abs=1e-4)
        else:
            assert row.median_days is None and row.p90_days is None


def test_outreach_matches_a_count_per_step(seeded, period):
    messages = list(OutboundMessage.objects.select_related("step", "enrollment__sequence"))
    sent_by_lead = defaultdict(list)
    for m in messages:
        if m.status == OutboundMessage.Status.SENT:
            sent_by_lead[m.lead_id].append(m.sent_at)
    replies = defaultdict(list)
    labels = {c.reply_id: (c.final_label or c.label) for c in Classification.objects.all()}
    for reply in InboundReply.objects.all():
        replies[reply.lead_id].append((reply.received_at, labels.get(reply.id)))
    unsubscribes = defaultdict(list)
    for event in LeadEvent.objects.filter(kind=OutreachEventKind.UNSUBSCRIBED):
        unsubscribes[event.lead_id].append(event.at)
    expected: dict[tuple[str, int], Counter] = defaultdict(Counter)
    # The owner's one-off answers count for no step, but a reply after one belongs to it.
    assert any(m.kind == OutboundMessage.Kind.ONE_OFF and m.status == OutboundMessage.Status.SENT for m in messages)
    for m in messages:
        if m.kind != OutboundMessage.Kind.SEQUENCE:
            continue
        key = (m.enrollment.sequence.name, m.step.position)
        if m.status == OutboundMessage.Status.FAILED and _in(m.updated_at, period):
            expected[key]["bounced"] += 1
        if m.status != OutboundMessage.Status.SENT or not _in(m.sent_at, period):
            continue
        later = [at for at in sent_by_lead[m.lead_id] if at > m.sent_at]
        end = min(later) if later else None

        def within(at, start=m.sent_at, end=end):  # type: ignore[no-untyped-def]
            return at >= start and (end is None or at < end)

        expected[key]["sent"] += 1
        expected[key]["replied"] += any(within(at) for at, _ in replies[m.lead_id])
        expected[key]["positive"] += any(within(at) and label == Label.POSITIVE for at, label in replies[m.lead_id])
        expected[key]["unsubscribed"] += any(within(at) for at in unsubscribes[m.lead_id])

    report = outreach_report(period=period)

    got = {
        (row.sequence, row.step): Counter({k: v for k, v in vars(row).items() if k not in ("sequence", "step") and v})
        for row in report
    }
    assert got == {key: +counter for key, counter in expected.items()}
    assert sum(c["replied"] for c in expected.values()) > 0
    assert sum(c["bounced"] for c in expected.values()) > 0
    first = report[0]
    assert first.reply_rate == pytest.approx(first.replied / first.sent)


def _outreach_by_count(period) -> dict[tuple[str, int | None], Counter]:  # type: ignore[no-untyped-def]
    """The outreach report's definitions over the rows, per (sequence, step position or None)."""
    messages = list(OutboundMessage.objects.select_related("lead", "step", "enrollment__sequence"))
    sent_by_lead = defaultdict(list)
    for m in messages:
        if m.status == OutboundMessage.Status.SENT:
            sent_by_lead[m.lead_id].append((m.sent_at, m.id))
    labels = {c.reply_id: (c.final_label or c.label) for c in Classification.objects.all()}
    replies = defaultdict(list)
    for reply in InboundReply.objects.all():
        replies[reply.lead_id].append((reply.received_at, labels.get(reply.id)))
    unsubscribes = defaultdict(list)
    for event in LeadEvent.objects.filter(kind=OutreachEventKind.UNSUBSCRIBED):
        unsubscribes[event.lead_id].append(event.at)

    def owner(lead_id: int, at) -> int | None:  # type: ignore[no-untyped-def]
        before = [sent for sent in sent_by_lead[lead_id] if sent[0] <= at]
        return max(before)[1] if before else None

    expected: dict[tuple[str, int | None], Counter] = defaultdict(Counter)
    for m in messages:
        if m.kind != OutboundMessage.Kind.SEQUENCE or m.enrollment is None:
            continue
        if period.source and m.lead.source != period.source:
            continue
        key = (m.enrollment.sequence.name, m.step.position if m.step else None)
        if m.status == OutboundMessage.Status.FAILED and _in(m.updated_at, period):
            expected[key]["bounced"] += 1
        if m.status != OutboundMessage.Status.SENT or not _in(m.sent_at, period):
            continue
        expected[key]["sent"] += 1
        answers = [label for at, label in replies[m.lead_id] if at >= period.start_at and owner(m.lead_id, at) == m.id]
        expected[key]["replied"] += bool(answers)
        expected[key]["positive"] += Label.POSITIVE in answers
        expected[key]["unsubscribed"] += any(
            at >= period.start_at and owner(m.lead_id, at) == m.id for at in unsubscribes[m.lead_id]
        )
    return {key: +counter for key, counter in expected.items()}


@pytest.mark.parametrize("source", ["", "ghl"])
def test_outreach_with_a_deleted_step_matches_a_count(seeded, source):
    """Over this year, by source, with a step deleted: its emails count for their enrollment's
    sequence with no step. Both databases' queries against the same count."""
    period = replace(period_for("this_year", today=owner_today()), source=source)
    step = SequenceStep.objects.order_by("sequence_id", "position").first()
    assert step is not None and OutboundMessage.objects.filter(step=step, status="sent").exists()
    step.delete()

    report = outreach_report(period=period)

    got = {
        (row.sequence, row.step): Counter({k: v for k, v in vars(row).items() if k not in ("sequence", "step") and v})
        for row in report
    }
    expected = _outreach_by_count(period)
    assert got == expected
    assert any(step is None for _name, step in got)
    assert sum(c["replied"] for c in expected.values()) > 0
    assert sum(c["positive"] for c in expected.values()) > 0
    assert sum(c["unsubscribed"] for c in expected.values()) > 0


def test_bookings_match_a_count_with_calls(seeded, period, now):
    calls = defaultdict(list)
    for call in Call.objects.exclude(lead=None):
        calls[call.lead_id].append(call.started_at)
    totals = Counter()
    weekdays, hours = Counter(), Counter()
    for booking in Booking.objects.all():
        if not _in(booking.start_at, period):
            continue
        local = booking.start_at.astimezone(owner_zone())
        weekdays[local.weekday()] += 1
        hours[local.hour] += 1
        totals["booked"] += 1
        cancelled = booking.status == Booking.Status.CANCELLED
        totals["cancelled"] += cancelled
        totals["rescheduled"] += booking.rescheduled_at is not None
        if cancelled:
            continue
        if booking.start_at >= now:
            totals["upcoming"] += 1
            continue
        held = any(
            booking.start_at - MATCH_WINDOW <= at <= booking.end_at + MATCH_WINDOW for at in calls[booking.lead_id]
        )
        totals["held" if held else "no_show"] += 1

    report = bookings_report(period=period, now=now)

    t = report.totals
    assert (t.booked, t.held, t.cancelled, t.rescheduled, t.no_show, t.upcoming) == (
        totals["booked"],
        totals["held"],
        totals["cancelled"],
        totals["rescheduled"],
        totals["no_show"],
        totals["upcoming"],
    )
    assert t.held > 0 and t.no_show > 0
    assert t.show_rate == pytest.approx(t.held / (t.held + t.no_show))
    assert report.by_weekday == [weekdays[d] for d in range(7)]
    assert report.by_hour == [hours[h] for h in range(24)]


def test_revenue_matches_a_count_over_proposals_and_payments(seeded, period):
    monthly = Counter()
    for payment in Payment.objects.filter(status__in=[Payment.Status.PAID, Payment.Status.REFUNDED]):
        if _in(payment.paid_at, period):
            local = payment.paid_at.astimezone(owner_zone())
            monthly[local.date().replace(day=1)] += payment.amount_minor - payment.refunded_minor
    proposals = list(Proposal.objects.all())
    paid_totals = [p.total_minor for p in proposals if _in(p.paid_at, period)]
    open_ = [p for p in proposals if p.status in STATUS_WEIGHTS and p.superseded_by_id is None and p.revoked_at is None]

    report = revenue_report(period=period)

    assert report.paid_by_month["USD"] == sorted(monthly.items())
    assert report.proposals_sent == sum(_in(p.sent_at, period) for p in proposals)
    assert report.proposals_signed == sum(_in(p.signed_at, period) for p in proposals)
    assert report.proposals_paid == len(paid_totals) > 0
    assert report.average_deal["USD"] == pytest.approx(sum(paid_totals) / len(paid_totals))
    assert report.open_total["USD"] == sum(p.total_minor for p in open_)
    assert report.weighted_pipeline["USD"] == pytest.approx(
        sum(p.total_minor * STATUS_WEIGHTS[p.status] for p in open_)
    )


@pytest.mark.parametrize("source", ["", "ghl"])
def test_classification_matches_a_count_per_label_and_week(seeded, period, source):
    period = replace(period, source=source)
    per_week = Counter()
    total = routed = reviewed = corrected = 0
    for c in Classification.objects.select_related("reply__lead"):
        if not _in(c.reply.received_at, period) or (source and c.reply.lead.source != source):
            continue
        local = c.reply.received_at.astimezone(owner_zone()).date()
        per_week[(local - timedelta(days=local.weekday()), c.final_label or c.label)] += 1
        total += 1
        routed += c.needs_review or bool(c.review_reason)
        reviewed += c.reviewed_at is not None
        corrected += c.reviewed_at is not None and bool(c.final_label) and c.final_label != c.label

    report = classification_report(period=period)

    got = Counter(
        {(week, label): report.per_week[label][i] for label in report.labels for i, week in enumerate(report.weeks)}
    )
    assert +got == per_week
    assert (report.total, report.sent_to_review, report.reviewed, report.corrected) == (
        total,
        routed,
        reviewed,
        corrected,
    )
    assert total > 0
    if not source:  # (a few hundred leads: one source's few replies may have none reviewed)
        assert reviewed > 0 and corrected > 0
        assert report.disagreement_rate == pytest.approx(corrected / reviewed)
