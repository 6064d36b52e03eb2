"""Demo proposals and payments: every proposal status and every payment status, for the leads
`seed_demo` put in call_done, proposal_sent, signed and paid."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from billing.models import BillingEventKind, Payment, Proposal, ProposalLine, Signature
from billing.services.documents import content_sha256, proposal_document_html
from billing.services.proposals import CONSENT_TEXT, proposal_total
from clientsflow.demo import DemoContext
from leads.demo import demo_stage_times
from leads.models import Lead
from leads.services.timeline import timeline_record

CATALOGUE = [
    ("Discovery workshop", Decimal("1"), 120000),
    ("Brand refresh", Decimal("1"), 350000),
    ("Website build (per page)", Decimal("6"), 45000),
    ("Copywriting hours", Decimal("12.5"), 9500),
    ("Monthly retainer", Decimal("3"), 200000),
]
PROPOSAL_CYCLE = {
    "call_done": [Proposal.Status.DRAFT],
    "proposal_sent": [Proposal.Status.SENT, Proposal.Status.VIEWED, Proposal.Status.DECLINED, Proposal.Status.EXPIRED],
    "signed": [Proposal.Status.SIGNED],
    "paid": [Proposal.Status.PAID],
}
S = Payment.Status
# Checkout histories, cycled per lead: signed leads have not paid (yet); paid leads did.
SIGNED_PAYMENTS = [[S.EXPIRED, S.FAILED], [S.PENDING], [S.OPEN, S.REVIEW], []]
PAID_PAYMENTS = [[S.PAID], [S.FAILED, S.PAID], [S.REFUNDED], [S.PAID]]


def seed_billing(ctx: DemoContext) -> dict[str, int]:
    """Proposals, signatures and payments, dated from each lead's stage history: sent when it
    reached `proposal_sent`, signed at `signed`, paid at `paid` (failed attempts before that)."""
    counts = {"proposals": 0, "payments": 0, "signatures": 0}
    for stage, statuses in PROPOSAL_CYCLE.items():
        ids = ctx.leads_by_stage.get(stage, [])
        if stage == "call_done":
            ids = ids[: max(1, len(ids) // 3)]
        times = demo_stage_times(list(ids))
        for index, lead in enumerate(Lead.objects.filter(pk__in=ids).order_by("pk")):
            status = statuses[index % len(statuses)]
            stage_times = times.get(lead.pk, {})
            proposal = _proposal(ctx, lead, status, currency="JPY" if index % 7 == 3 else "USD", times=stage_times)
            counts["proposals"] += 1
            if status in (Proposal.Status.SIGNED, Proposal.Status.PAID):
                _sign(ctx, proposal, signed_at=stage_times.get("signed"))
                counts["signatures"] += 1
            history = {Proposal.Status.SIGNED: SIGNED_PAYMENTS, Proposal.Status.PAID: PAID_PAYMENTS}.get(status, [[]])
            attempts = history[index % len(history)]
            for number, payment_status in enumerate(attempts):
                at = _payment_time(ctx, proposal, stage_times.get("paid"), number, len(attempts))
                _payment(ctx, proposal, payment_status, n=counts["payments"], at=at)
                counts["payments"] += 1
    return counts


def _payment_time(
    ctx: DemoContext, proposal: Proposal, paid_at: datetime | None, number: int, attempts: int
) -> datetime:
    """The last attempt of a paid lead lands at its `paid` time; earlier ones between signing and then."""
    signed_at = proposal.signed_at or ctx.now
    end = paid_at or ctx.now
    if paid_at is not None and number == attempts - 1:
        return paid_at
    return signed_at + (end - signed_at) * (number + 1) / (attempts + 1)


def _proposal(ctx: DemoContext, lead: Lead, status: str, currency: str, times: dict[str, datetime]) -> Proposal:
    picks = ctx.rng.sample(CATALOGUE, k=ctx.rng.randint(1, 3))
    factor = 150 if currency == "JPY" else 1  # ¥ prices are whole yen, roughly the same value
    lines = [(d, q, (p // 100) * factor if currency == "JPY" else p) for d, q, p in picks]
    sent_at = times.get("proposal_sent") or ctx.now - timedelta(days=ctx.rng.randint(2, 20))
    # Read before signing (or, unsigned, some time after it was sent).
    viewed_at = sent_at + ((times.get("signed") or ctx.now) - sent_at) / 2
    expired = status == Proposal.Status.EXPIRED
    proposal = Proposal.objects.create(
        lead=lead,
        title=f"{lead.company or lead.name or 'Project'}: {picks[0][0].lower()}",
        introduction="Thank you for the call. Here is what we agreed, with prices and timing.",
        terms="Work starts within 10 business days of the deposit. Invoices are due in 14 days.",
        currency=currency,
        deposit_percent=ctx.rng.choice([None, 30, 33, 50]),
        valid_until=(ctx.now - timedelta(days=1)).date() if expired else (ctx.now + timedelta(days=30)).date(),
        status=status,
        sent_at=None if status == Proposal.Status.DRAFT else sent_at,
        send_requested_at=None if status == Proposal.Status.DRAFT else sent_at,
        viewed_at=viewed_at if status not in ("draft", "sent", "expired") else None,
        declined_at=sent_at + timedelta(days=1) if status == Proposal.Status.DECLINED else None,
        created_by=ctx.owner,
    )
    if status != Proposal.Status.DRAFT:
        timeline_record(
            lead=lead,
            kind=BillingEventKind.PROPOSAL,
            summary=f"Proposal sent: {proposal.title}",
            data={"proposal_id": proposal.pk, "via": "demo data"},
            occurred_at=sent_at,
        )
    line_rows = [
        ProposalLine(proposal=proposal, position=i, description=d, quantity=q, unit_price_minor=p)
        for i, (d, q, p) in enumerate(lines)
    ]
    ProposalLine.objects.bulk_create(line_rows)
    proposal.total_minor = proposal_total(line_rows)
    proposal.save(update_fields=["total_minor"])
    return proposal


def _sign(ctx: DemoContext, proposal: Proposal, signed_at: datetime | None) -> None:
    content = proposal_document_html(proposal=proposal)
    signed_at = signed_at or (proposal.viewed_at or ctx.now) + timedelta(hours=ctx.rng.randint(1, 30))
    Signature.objects.create(
        proposal=proposal,
        signer_name=proposal.lead.name or "Demo Signer",
        signer_email=proposal.lead.email or "signer@example.com",
        consent_text=CONSENT_TEXT,
        ip_address=f"203.0.113.{ctx.rng.randint(1, 254)}",
        user_agent="Mozilla/5.0 (demo data)",
        signed_at=signed_at,
        content_sha256=content_sha256(content),
        content=content,
    )
    Proposal.objects.filter(pk=proposal.pk).update(signed_at=signed_at)
    proposal.signed_at = signed_at
    timeline_record(
        lead=proposal.lead,
        kind=BillingEventKind.PROPOSAL,
        summary=f"Proposal signed by {proposal.lead.name or 'the lead'}: {proposal.title}",
        data={"proposal_id": proposal.pk, "via": "demo data"},
        occurred_at=signed_at,
    )


def _payment(ctx: DemoContext, proposal: Proposal, status: str, n: int, at: datetime) -> None:
    amount = proposal.due_now_minor
    review_reason = ""
    if status == Payment.Status.REVIEW:  # the lead paid a different amount than asked
        amount = max(proposal.due_now_minor // 2, 1)
        review_reason = f"Paid {proposal.money(amount)}; the proposal asked for {proposal.due_now_display}."
    Payment.objects.create(
        proposal=proposal,
        lead=proposal.lead,
        checkout_session_id=f"cs_demo_{proposal.pk}_{n}",
        payment_intent_id=f"pi_demo_{proposal.pk}_{n}",
        checkout_url="",
        amount_minor=amount,
        currency=proposal.currency,
        status=status,
        refunded_minor=amount if status == Payment.Status.REFUNDED else 0,
        paid_at=at if status in (Payment.Status.PAID, Payment.Status.REFUNDED) else None,
        failed_at=at if status == Payment.Status.FAILED else None,
        failure_message="Your card was declined." if status == Payment.Status.FAILED else "",
        refunded_at=at + timedelta(days=2) if status == Payment.Status.REFUNDED else None,
        expires_at=at + timedelta(hours=24),
        last_event_id="demo",
        review_reason=review_reason,
    )
    if status in (Payment.Status.PAID, Payment.Status.REFUNDED):
        Proposal.objects.filter(pk=proposal.pk).update(paid_at=at)
    if status in (Payment.Status.PAID, Payment.Status.FAILED, Payment.Status.REFUNDED):
        verb = "failed" if status == Payment.Status.FAILED else "received"
        timeline_record(
            lead=proposal.lead,
            kind=BillingEventKind.PAYMENT,
            summary=f"Payment {verb}: {proposal.money(amount)}",
            data={"proposal_id": proposal.pk, "via": "demo data"},
            occurred_at=at,
        )
