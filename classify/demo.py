"""Demo replies with classifications for the leads `seed_demo` put past `contacted`; some borderline."""

from __future__ import annotations

from datetime import timedelta

from classify.models import Classification
from classify.services.classification import classify_text
from clientsflow.demo import DemoContext
from leads.demo import demo_stage_times
from leads.models import Lead
from leads.services.timeline import timeline_record
from outreach.models import InboundReply, OutboundMessage, OutreachEventKind

POSITIVE = [
    "Sure, when works for you? Thursday afternoon is open.",
    "Not sure it's a fit, but happy to chat.",
    "What does pricing look like for a small team?",
    "Sí, me interesa. ¿Cuándo podemos hablar?",
    "Ja, gerne. Wann passt es Ihnen?",
    "Can you send over a couple of case studies? Then let's talk.",
]
UNDECIDED = [
    "ooo till 3/20",
    "Not right now, try me again next quarter.",
    "I'm not the right person, try our CMO.",
    "Not the usual spam, I'll bite. What's the catch?",
    "Hmm, let me see what my boss thinks.",
]
NEGATIVE = [
    "No thanks, we already have an agency we're happy with.",
    "Please remove me from your list.",
    "Non merci, pas intéressé.",
]
QUOTE = (
    "\n\nOn Mon, Nov 23, 2026 at 9:14 AM Owen Park <owen@northwind.agency> wrote:\n"
    "> Would you be open to a quick call? If not, just reply no.\n"
)
LATER_STAGES = ("booked", "call_done", "proposal_sent", "signed", "paid")


def seed_replies(ctx: DemoContext) -> dict[str, int]:
    plan: list[tuple[int, str]] = []
    for index, lead_id in enumerate(ctx.leads_by_stage.get("replied", [])):
        # Every third one is undecided, and the first always lands in the review queue (unsubscribe
        # words in a positive reply), so the demo shows the queue at work.
        text = UNDECIDED[3] if index == 0 else ctx.rng.choice(UNDECIDED if index % 3 == 0 else POSITIVE)
        plan.append((lead_id, text))
    for stage in LATER_STAGES:
        plan += [(lead_id, ctx.rng.choice(POSITIVE)) for lead_id in ctx.leads_by_stage.get(stage, [])]
    plan += [(lead_id, ctx.rng.choice(NEGATIVE)) for lead_id in ctx.leads_by_stage.get("lost", [])]
    leads = Lead.objects.in_bulk([lead_id for lead_id, _ in plan])
    times = demo_stage_times(list(leads))
    # The email each lead answers (outreach/demo.py dates it at the lead's `contacted` time).
    first_sent = dict(
        OutboundMessage.objects.filter(lead_id__in=list(leads), sent_at__isnull=False)
        .order_by("lead_id", "-sent_at")
        .values_list("lead_id", "message_id")
    )
    created = queued = 0
    for number, (lead_id, text) in enumerate(plan):
        lead = leads.get(lead_id)
        if lead is None or InboundReply.objects.filter(lead=lead, source=InboundReply.Source.DEMO).exists():
            continue
        address = lead.email or f"lead{lead.pk}@example.com"
        body = text + (QUOTE if number % 3 == 0 else "")
        stage_times = times.get(lead.pk, {})
        # A reply is what moved the lead to `replied`; a lost lead's refusal came just before.
        received_at = stage_times.get("replied") or (
            stage_times["lost"] - timedelta(minutes=ctx.rng.randint(5, 120))
            if "lost" in stage_times
            else ctx.now - timedelta(hours=ctx.rng.randint(1, 240))
        )
        in_reply_to = first_sent.get(lead.pk, "")
        reply = InboundReply.objects.create(
            lead=lead,
            source=InboundReply.Source.DEMO,
            from_email=address,
            from_email_normalized=address.strip().lower(),
            subject="Re: Quick question",
            body=body,
            message_id=f"<demo-{lead.pk}-{number}@clientsflow.demo>",
            matched_by=InboundReply.MatchedBy.IN_REPLY_TO if in_reply_to else InboundReply.MatchedBy.SENDER,
            in_reply_to=in_reply_to,
            references=in_reply_to,
            received_at=received_at,
        )
        timeline_record(
            lead=lead,
            kind=OutreachEventKind.REPLY_RECEIVED,
            summary="Reply received: Re: Quick question",
            data={"reply_id": reply.pk, "via": "demo data"},
            occurred_at=received_at,
        )
        # The demo leads' stages are already set by seed_demo: store the verdict, run no policy.
        verdict = classify_text(text=body, use_anthropic=False)
        classification = Classification.objects.create(
            reply=reply,
            label=verdict.label,
            confidence=round(verdict.confidence, 4),
            backend=verdict.backend,
            model_version=verdict.model_version,
            rationale=verdict.rationale[:500],
            local_label=verdict.local_label,
            local_confidence=verdict.local_confidence,
            unsubscribe_intent=verdict.unsubscribe_intent,
            needs_review=verdict.needs_review,
            review_reason=" ".join(verdict.review_reasons)[:255],
            policy_action=Classification.PolicyAction.QUEUED
            if verdict.needs_review
            else Classification.PolicyAction.NONE,
        )
        # Classified a minute after it arrived (created_at is set on insert, so dated afterwards).
        Classification.objects.filter(pk=classification.pk).update(created_at=received_at + timedelta(minutes=1))
        created += 1
        queued += verdict.needs_review
    ctx.log(f"classify: {created} demo replies, {queued} in the review queue")
    return {"replies": created, "replies_needing_review": queued}
