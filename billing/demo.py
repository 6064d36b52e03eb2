"""Demo proposals and payments: every proposal status and every payment status, for the leads
`seed_demo` put in call_done, proposal_sent, signed and paid."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from billing.models import Payment, Proposal, ProposalLine, Signature
from billing.services.documents import content_sha256, proposal_document_html
from billing.services.proposals import CONSENT_TEXT, proposal_total
from clientsflow.demo import DemoContext
from leads.models import Lead

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
    counts = {"proposals": 0, "payments": 0, "signatures": 0}
    for stage, statuses in PROPOSAL_CYCLE.items():
        ids = ctx.leads_by_stage.get(stage, [])
        if stage == "call_done":
            ids = ids[: max(1, len(ids) // 3)]
        for index, lead in enumerate(Lead.objects.filter(pk__in=ids).order_by("pk")):
            status = statuses[index % len(statuses)]
            proposal = _proposal(ctx, lead, status, currency="JPY" if index % 7 == 3 else "USD")
            counts["proposals"] += 1
            if status in (Proposal.Status.SIGNED, Proposal.Status.PAID):
                _sign(ctx, proposal)
                counts["signatures"] += 1
            history = {Proposal.Status.SIGNED: SIGNED_PAYMENTS, Proposal.Status.PAID: PAID_PAYMENTS}.get(status, [[]])
            for payment_status in history[index % len(history)]:
                _payment(ctx, proposal, payment_status, n=counts["payments"])
                counts["payments"] += 1
    return counts


def _proposal(ctx: DemoContext, lead: Lead, status: str, currency: str) -> Proposal:
    picks = ctx.rng.sample(CATALOGUE, k=ctx.rng.randint(1, 3))
    factor = 150 if currency == "JPY" else 1  # ¥ prices are whole yen, roughly the same value
    lines = [(d, q, (p // 100) * factor if currency == "JPY" else p) for d, q, p in picks]
    days_ago = ctx.rng.randint(2, 20)
    sent_at = ctx.now - timedelta(days=days_ago)
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
        viewed_at=sent_at + timedelta(hours=3) if status not in ("draft", "sent", "expired") else None,
        declined_at=sent_at + timedelta(days=1) if status == Proposal.Status.DECLINED else None,
        created_by=ctx.owner,
    )
    line_rows = [
        ProposalLine(proposal=proposal, position=i, description=d, quantity=q, unit_price_minor=p)
        for i, (d, q, p) in enumerate(lines)
    ]
    ProposalLine.objects.bulk_create(line_rows)
    proposal.total_minor = proposal_total(line_rows)
    proposal.save(update_fields=["total_minor"])
    return proposal


def _sign(ctx: DemoContext, proposal: Proposal) -> None:
    content = proposal_document_html(proposal=proposal)
    signed_at = (proposal.viewed_at or ctx.now) + timedelta(hours=ctx.rng.randint(1, 30))
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


def _payment(ctx: DemoContext, proposal: Proposal, status: str, n: int) -> None:
    amount = proposal.due_now_minor
    review_reason = ""
    if status == Payment.Status.REVIEW:  # the lead paid a different amount than asked
        amount = max(proposal.due_now_minor // 2, 1)
        review_reason = f"Paid {proposal.money(amount)}; the proposal asked for {proposal.due_now_display}."
    at = (proposal.signed_at or ctx.now) + timedelta(hours=2)
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
