"""Each report's numbers as a page: headline figures, charts, and the tables behind them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.text import slugify

from leads.models import Stage
from leads.permissions import VIEW_LEAD
from reports.charts import Chart, Series
from reports.periods import Period
from reports.selectors.bookings import bookings_report
from reports.selectors.classification import classification_report
from reports.selectors.funnel import funnel_report
from reports.selectors.outreach import outreach_report
from reports.selectors.revenue import revenue_report
from reports.selectors.time_in_stage import STALL_DAYS, time_in_stage_report

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
STAGE_LABELS = dict(Stage.choices)


@dataclass(frozen=True)
class Table:
    caption: str
    columns: list[str]
    rows: list[list[str]]

    @property
    def slug(self) -> str:
        """Names the table in its download link (`?table=<slug>`)."""
        return slugify(self.caption)


@dataclass(frozen=True)
class ReportPage:
    figures: list[tuple[str, str]] = field(default_factory=list)
    charts: list[tuple[Chart, Table]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    empty: bool = False


@dataclass(frozen=True)
class Report:
    slug: str
    title: str
    summary: str
    perms: tuple[str, ...]
    build: Callable[[Period], ReportPage]


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def days(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def money(minor: float, currency: str) -> str:
    return f"{minor / 100:,.2f} {currency}"


def chart_table(chart: Chart, *, caption: str | None = None) -> Table:
    return Table(
        caption=caption or chart.title,
        columns=[chart.category_label, *(s.name for s in chart.series)],
        rows=[
            [category, *(chart.value_format.format(s.values[i]) for s in chart.series)]
            for i, category in enumerate(chart.categories)
        ],
    )


def funnel_page(period: Period) -> ReportPage:
    funnel = funnel_report(period=period)
    labels = [STAGE_LABELS[s] for s in funnel.stages]
    all_counts = funnel.reached[""]
    chart = Chart(
        slug="funnel",
        category_label="Stage",
        title="Leads reaching each stage",
        desc=f"Leads that reached each stage, {period.label}; by source side by side.",
        categories=labels,
        series=[Series(source, [float(v) for v in funnel.reached[source]]) for source in funnel.sources]
        or [Series("All sources", [float(v) for v in all_counts])],
    )
    conversion = funnel.conversion()
    to_paid = funnel.to_paid()
    rows = [
        [labels[i], f"{all_counts[i]:,}", pct(conversion[i]) if i < len(conversion) else "n/a", pct(to_paid[i])]
        for i in range(len(labels))
    ]
    by_source = [
        [source, *(f"{v:,}" for v in funnel.reached[source]), pct(funnel.to_paid(source)[0])]
        for source in funnel.sources
    ]
    return ReportPage(
        figures=[
            ("New leads", f"{all_counts[0]:,}"),
            ("Reached paid", f"{all_counts[-1]:,}"),
            ("New to paid", pct(to_paid[0])),
        ],
        charts=[(chart, chart_table(chart, caption="Leads reaching each stage, by source"))],
        tables=[
            Table("Conversion, every source", ["Stage", "Leads", "To the next stage", "To paid"], rows),
            Table("By source", ["Source", *labels, "New to paid"], by_source),
        ],
        notes=[
            "A lead counts at a stage when it moved there, or further, in the range; events can skip stages.",
            "New is the leads created in the range, so a later stage can hold more leads than New.",
        ],
        empty=not any(all_counts),
    )


def time_in_stage_page(period: Period) -> ReportPage:
    stages = [s for s in time_in_stage_report(period=period) if s.stage != Stage.PAID]
    labels = [STAGE_LABELS[s.stage] for s in stages]
    chart = Chart(
        slug="time-in-stage",
        category_label="Stage",
        title="Days in each stage",
        desc=f"Median and 90th percentile days spent in each stage, stays that began {period.label}.",
        categories=labels,
        series=[
            Series("Median", [s.median_days or 0 for s in stages]),
            Series("90th percentile", [s.p90_days or 0 for s in stages]),
        ],
        value_format="{:,.1f}",
    )
    stall = Chart(
        slug="stalled",
        category_label="Stage",
        title=f"Leads stalled over {STALL_DAYS} days",
        desc=f"Leads in each stage now that have been there more than {STALL_DAYS} days.",
        categories=labels,
        series=[Series("Stalled now", [float(s.stalled) for s in stages])],
    )
    rows = [
        [label, f"{s.finished:,}", days(s.median_days), days(s.p90_days), f"{s.open_now:,}", f"{s.stalled:,}"]
        for label, s in zip(labels, stages, strict=True)
    ]
    worst = max(stages, key=lambda s: s.stalled, default=None)
    figures = []
    if worst and worst.stalled:
        figures.append(("Most stalled", f"{STAGE_LABELS[worst.stage]} ({worst.stalled:,})"))
    return ReportPage(
        figures=figures,
        charts=[(chart, chart_table(chart)), (stall, chart_table(stall))],
        tables=[
            Table(
                "Every stage",
                ["Stage", "Stays ended", "Median days", "90th pct days", "There now", f"Over {STALL_DAYS} days"],
                rows,
            )
        ],
        notes=["Percentiles use finished stays that began in the range; stalled counts are as of now."],
        empty=not any(s.finished or s.open_now for s in stages),
    )


def outreach_page(period: Period) -> ReportPage:
    steps = outreach_report(period=period)
    labels = [f"{s.sequence} · step {s.step}" if s.step else f"{s.sequence} · no step" for s in steps]
    chart = Chart(
        slug="outreach",
        category_label="Step",
        title="Sent and replied per step",
        desc=f"Emails sent per sequence step {period.label}, and how many got a reply.",
        categories=labels,
        series=[Series("Sent", [float(s.sent) for s in steps]), Series("Replied", [float(s.replied) for s in steps])],
    )
    rows = [
        [
            label,
            f"{s.sent:,}",
            f"{s.replied:,}",
            f"{s.positive:,}",
            f"{s.unsubscribed:,}",
            f"{s.bounced:,}",
            pct(s.reply_rate),
        ]
        for label, s in zip(labels, steps, strict=True)
    ]
    sent = sum(s.sent for s in steps)
    replied = sum(s.replied for s in steps)
    return ReportPage(
        figures=[
            ("Sent", f"{sent:,}"),
            ("Replied", f"{replied:,}"),
            ("Reply rate", pct(replied / sent if sent else None)),
        ],
        charts=[(chart, chart_table(chart))],
        tables=[
            Table("Every step", ["Step", "Sent", "Replied", "Positive", "Unsubscribed", "Bounced", "Reply rate"], rows)
        ],
        notes=[
            "A reply or unsubscribe counts for the last email sent to that lead before it. Bounced = the provider refused it."
        ],
        empty=not steps,
    )


def bookings_page(period: Period) -> ReportPage:
    report = bookings_report(period=period)
    t = report.totals
    outcome = Chart(
        slug="booking-outcomes",
        category_label="Outcome",
        title="What became of the bookings",
        desc=f"Bookings starting {period.label}: held, no-show, cancelled, rescheduled, still to come.",
        categories=["Booked", "Held", "No-show", "Cancelled", "Rescheduled", "Still to come"],
        series=[
            Series(
                "Bookings", [float(v) for v in (t.booked, t.held, t.no_show, t.cancelled, t.rescheduled, t.upcoming)]
            )
        ],
    )
    weekday = Chart(
        slug="booking-weekday",
        category_label="Weekday",
        title="Bookings by weekday",
        desc="Bookings by the weekday they start, in the owner's time zone.",
        categories=WEEKDAYS,
        series=[Series("Bookings", [float(v) for v in report.by_weekday])],
    )
    hours = [h for h in range(24) if report.by_hour[h]] or list(range(9, 18))
    hour = Chart(
        slug="booking-hour",
        category_label="Hour",
        title="Bookings by hour",
        desc="Bookings by the hour they start, in the owner's time zone (hours with none left out).",
        categories=[f"{h:02d}:00" for h in hours],
        series=[Series("Bookings", [float(report.by_hour[h]) for h in hours])],
    )
    return ReportPage(
        figures=[("Booked", f"{t.booked:,}"), ("Show rate", pct(t.show_rate)), ("No-shows", f"{t.no_show:,}")],
        charts=[(outcome, chart_table(outcome)), (weekday, chart_table(weekday)), (hour, chart_table(hour))],
        notes=[
            "Held: a recorded call with the lead started within two hours of the booking. "
            "No-show: a past booking, not cancelled, with no such call. Show rate = held / (held + no-show)."
        ],
        empty=not t.booked,
    )


def revenue_page(period: Period) -> ReportPage:
    report = revenue_report(period=period)
    charts = []
    for currency in report.currencies:
        months = report.paid_by_month.get(currency, [])
        chart = Chart(
            slug=f"paid-{currency.lower()}",
            category_label="Month",
            title=f"Paid per month ({currency})",
            desc=f"Money paid per month {period.label}, after refunds, in {currency}.",
            categories=[f"{m:%b %Y}" for m, _ in months] or ["None yet"],
            series=[Series("Paid", [amount / 100 for _, amount in months] or [0.0])],
            value_format="{:,.2f}",
        )
        charts.append((chart, chart_table(chart)))
    proposals = Chart(
        slug="proposals",
        category_label="Proposals",
        title="Proposals sent, signed and paid",
        desc=f"Proposals sent, signed and paid {period.label}.",
        categories=["Sent", "Signed", "Paid"],
        series=[
            Series(
                "Proposals",
                [float(report.proposals_sent), float(report.proposals_signed), float(report.proposals_paid)],
            )
        ],
    )
    charts.append((proposals, chart_table(proposals)))
    forecast = [
        [
            currency,
            money(report.average_deal[currency], currency) if currency in report.average_deal else "n/a",
            money(report.open_total.get(currency, 0), currency),
            money(report.weighted_pipeline.get(currency, 0), currency),
        ]
        for currency in report.currencies
    ]
    figures = [("Proposals paid", f"{report.proposals_paid:,}")]
    for currency in report.currencies:
        paid = sum(amount for _, amount in report.paid_by_month.get(currency, []))
        figures.append((f"Paid ({currency})", money(paid, currency)))
    return ReportPage(
        figures=figures,
        charts=charts,
        tables=[
            Table(
                "Average deal and forecast",
                ["Currency", "Average deal", "Open proposals", "Weighted pipeline"],
                forecast,
            )
        ],
        notes=[
            "Open proposals: sent, viewed or signed and not replaced, as of now. Weighted pipeline counts "
            "sent at 30%, viewed at 40% and signed at 90%."
        ],
        empty=not (report.currencies or report.proposals_sent),
    )


def classification_page(period: Period) -> ReportPage:
    report = classification_report(period=period)
    chart = Chart(
        slug="labels-per-week",
        category_label="Week of",
        title="Replies per label per week",
        desc=f"Replies received {period.label} per week (from Monday), by label.",
        categories=[f"{w:%b %-d}" for w in report.weeks] or ["None yet"],
        series=[
            Series(label.capitalize(), [float(v) for v in report.per_week[label]] or [0.0]) for label in report.labels
        ],
    )
    return ReportPage(
        figures=[
            ("Replies", f"{report.total:,}"),
            ("Sent to review", pct(report.review_share)),
            ("Disagreement", pct(report.disagreement_rate)),
        ],
        charts=[(chart, chart_table(chart))],
        tables=[
            Table(
                "Review",
                ["Replies", "Sent to review", "Reviewed", "Corrected by a person", "Disagreement rate"],
                [
                    [
                        f"{report.total:,}",
                        f"{report.sent_to_review:,}",
                        f"{report.reviewed:,}",
                        f"{report.corrected:,}",
                        pct(report.disagreement_rate),
                    ]
                ],
            )
        ],
        notes=["Labels are the reviewer's where a person set one. Disagreement rate = corrected / reviewed."],
        empty=not report.total,
    )


REPORTS: dict[str, Report] = {
    r.slug: r
    for r in [
        Report(
            "funnel",
            "Funnel",
            "Leads reaching each stage, and conversion to the next and to paid.",
            (VIEW_LEAD,),
            funnel_page,
        ),
        Report(
            "time-in-stage",
            "Time in stage",
            "Median and 90th percentile days in each stage, and where leads stall.",
            (VIEW_LEAD, "leads.view_stagechange"),
            time_in_stage_page,
        ),
        Report(
            "outreach",
            "Outreach",
            "Per sequence step: sent, replied, positive, unsubscribed, bounced.",
            (VIEW_LEAD, "outreach.view_outboundmessage", "outreach.view_inboundreply"),
            outreach_page,
        ),
        Report(
            "bookings",
            "Bookings",
            "Held, cancelled, rescheduled, no-shows and show rate; by weekday and hour.",
            (VIEW_LEAD, "bookings.view_booking", "calls.view_call"),
            bookings_page,
        ),
        Report(
            "revenue",
            "Revenue",
            "Paid per month, proposals sent, signed and paid, average deal, forecast.",
            (VIEW_LEAD, "billing.view_proposal", "billing.view_payment"),
            revenue_page,
        ),
        Report(
            "classification",
            "Classification",
            "Replies per label per week, share sent to review, and human corrections.",
            (VIEW_LEAD, "classify.view_classification"),
            classification_page,
        ),
    ]
}
