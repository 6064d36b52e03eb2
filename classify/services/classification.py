"""Classifying a reply and applying the policy: lost, review queue, suppression.

Policy, in order of precedence:
- signals disagree (local model vs Anthropic, or "stop emailing me" cue vs a non-negative label),
  a backend could not answer, or the confidence is low -> the review queue; nothing else happens
  until a person confirms or corrects the label (except an unsubscribe, honoured at once when the
  label is negative);
- negative at or above `CLASSIFY_LOST_THRESHOLD` -> the lead moves to Lost with the reason
  recorded, when the move is legal and the lead has not got further than `replied` (a negative
  reply from a lead with a booked call or a proposal is left to the owner, and the note says so);
- positive -> nothing moves: the board badge and the "needs you" panel show it (attention.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from classify.clients import anthropic as anthropic_client
from classify.cues import has_unsubscribe_intent, unsubscribe_word_mentioned
from classify.local_model import load_model
from classify.models import Backend, Classification, ClassificationChange, Label, PromptVersion
from classify.services.prompts import prompt_ensure_champion
from classify.text import strip_reply
from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump
from clientsflow.errors import DomainError, InvalidInput
from clientsflow.notify import owner_notify
from leads.models import Stage
from leads.services.stages import lead_move_stage, stage_label
from outreach.models import InboundReply
from outreach.services.suppression import suppression_add

logger = logging.getLogger(__name__)

CLASSIFIER_ACTOR = "reply classifier"
# Only early stages are closed automatically: later on, a "no" needs the owner's judgement.
AUTO_LOST_FROM = frozenset({Stage.NEW, Stage.CONTACTED, Stage.REPLIED, Stage.NURTURE})


@dataclass
class Verdict:
    label: str
    confidence: float
    backend: str
    model_version: str
    rationale: str
    local_label: str
    local_confidence: float
    unsubscribe_intent: bool
    prompt_version: PromptVersion | None = None
    review_reasons: list[str] = field(default_factory=list)

    @property
    def needs_review(self) -> bool:
        return bool(self.review_reasons)


def classify_text(
    *, text: str, use_anthropic: bool | None = None, prompt: PromptVersion | None = None, client: Any = None
) -> Verdict:
    """Label a reply's text with the configured backend; never raises for a backend outage."""
    own_text = strip_reply(text)
    model = load_model()
    local = model.predict(text)
    cue_unsubscribe = has_unsubscribe_intent(text)
    top = sorted(local.probabilities.items(), key=lambda kv: -kv[1])
    local_rationale = "Local model: " + ", ".join(f"{label} {p:.0%}" for label, p in top)
    verdict = Verdict(
        label=local.label,
        confidence=local.confidence,
        backend=Backend.LOCAL,
        model_version=model.version,
        rationale=local_rationale,
        local_label=local.label,
        local_confidence=local.confidence,
        unsubscribe_intent=cue_unsubscribe,
    )
    if not own_text:
        verdict.label, verdict.confidence = Label.NEUTRAL, 0.5
        verdict.review_reasons.append("The reply has no text of its own (only quotes or a signature).")
        return verdict
    if anthropic_client.is_enabled() if use_anthropic is None else use_anthropic:
        prompt = prompt or prompt_ensure_champion()
        try:
            answer = anthropic_client.classify_reply_text(
                text=own_text, system_prompt=prompt.system_prompt, model=prompt.model, client=client
            )
        except anthropic_client.AnthropicUnavailable as exc:
            verdict.review_reasons.append(f"{exc.reason}; the local model's label is shown.")
        else:
            verdict.label, verdict.confidence = answer.label, answer.confidence
            verdict.backend, verdict.model_version = Backend.ANTHROPIC, answer.model
            verdict.rationale, verdict.prompt_version = answer.rationale or local_rationale, prompt
            verdict.unsubscribe_intent = answer.unsubscribe or cue_unsubscribe
            if answer.label != local.label:
                verdict.review_reasons.append(
                    f"The signals disagree: Anthropic says {answer.label}, the local model says {local.label}."
                )
    if verdict.unsubscribe_intent and verdict.label != Label.NEGATIVE:
        verdict.review_reasons.append(f"Asks to stop email, yet labelled {verdict.label}.")
    elif verdict.label != Label.NEGATIVE and (word := unsubscribe_word_mentioned(text)):
        verdict.review_reasons.append(
            f"Mentions “{word}” but does not ask to stop email; check the {verdict.label} label."
        )
    if verdict.label == Label.NEGATIVE and verdict.confidence < settings.CLASSIFY_LOST_THRESHOLD:
        verdict.review_reasons.append(
            f"Negative at {verdict.confidence:.0%}, below the {settings.CLASSIFY_LOST_THRESHOLD:.0%} needed to close the lead."
        )
    elif verdict.confidence < settings.CLASSIFY_REVIEW_THRESHOLD:
        verdict.review_reasons.append(f"Low confidence ({verdict.confidence:.0%}).")
    return verdict


def reply_classify(*, reply_id: int, client: Any = None) -> Classification:
    """Classify a stored reply once and apply the policy. A second call returns the first result."""
    existing = Classification.objects.filter(reply_id=reply_id).first()
    if existing is not None:
        return existing
    reply = InboundReply.objects.get(pk=reply_id)
    # The backend call happens outside any transaction: no row lock is held during network I/O.
    verdict = classify_text(text=reply.body or reply.subject, client=client)
    with transaction.atomic():
        InboundReply.objects.select_for_update().get(pk=reply_id)
        try:
            with transaction.atomic():
                classification = Classification.objects.create(
                    reply=reply,
                    label=verdict.label,
                    confidence=round(verdict.confidence, 4),
                    backend=verdict.backend,
                    prompt_version=verdict.prompt_version,
                    model_version=verdict.model_version[:100],
                    rationale=verdict.rationale[:500],
                    local_label=verdict.local_label,
                    local_confidence=verdict.local_confidence,
                    unsubscribe_intent=verdict.unsubscribe_intent,
                    needs_review=verdict.needs_review,
                    review_reason=" ".join(verdict.review_reasons)[:255],
                )
        except IntegrityError:
            return Classification.objects.get(reply_id=reply_id)
        audit_record(
            verb="classification.created",
            obj=classification,
            actor_label=CLASSIFIER_ACTOR,
            details={
                "reply_id": reply_id,
                "label": classification.label,
                "confidence": classification.confidence,
                "backend": classification.backend,
                "needs_review": classification.needs_review,
            },
        )
        _apply_policy(classification, actor=None, actor_label=CLASSIFIER_ACTOR)
    logger.info(
        "classify.reply_classified",
        extra={"reply_id": reply_id, "classification_id": classification.pk, "label": classification.label},
    )
    return classification


PENDING_BATCH = 50


HELD_NOTE = "Sender not verified: nothing done until a person applies the reply."


def replies_classify_pending(*, limit: int = PENDING_BATCH) -> dict[str, int]:
    """Classify the replies that have no classification yet, oldest first, at most `limit`.

    Run by the dispatcher every minute: a stored reply needs nothing from `outreach` beyond being
    stored, and a reply whose earlier attempt failed (a worker crash, the broker down) is simply
    picked up again on the next tick. One reply failing never stops the others.
    """
    pending = list(
        InboundReply.objects.filter(classification__isnull=True)
        .order_by("received_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    failed = 0
    for reply_id in pending:
        try:
            reply_classify(reply_id=reply_id)
        except Exception:
            failed += 1
            logger.exception("classify.reply_failed", extra={"reply_id": reply_id})
    # Replies held because their sender was not verified, and applied by a person since: act now.
    applied = list(
        Classification.objects.filter(
            policy_action=Classification.PolicyAction.QUEUED, policy_note=HELD_NOTE, reply__held_for_review=False
        )
        .order_by("id")
        .values_list("reply_id", flat=True)[:limit]
    )
    for reply_id in applied:
        with transaction.atomic():
            classification_policy_after_apply(reply_id=reply_id, actor_label="applied by a person")
    return {"classified": len(pending) - failed, "failed": failed, "applied": len(applied)}


@transaction.atomic
def classification_review(*, classification_id: int, label: str, actor: Any) -> Classification:
    """A person confirms (same label) or corrects the label; the policy then runs on their label.

    Precondition: the caller checked that `actor` may change classifications (the admin does).
    """
    if label not in Label.values:
        raise InvalidInput(f"{label!r} is not a label; choose positive, negative or neutral.")
    classification = Classification.objects.select_for_update().select_related("reply").get(pk=classification_id)
    previous = classification.effective_label
    actor_label = actor.get_username() if getattr(actor, "is_authenticated", False) else "reviewer"
    classification.final_label = label
    classification.reviewed_by = actor if getattr(actor, "is_authenticated", False) else None
    classification.reviewed_at = timezone.now()
    classification.needs_review = False
    classification.save(update_fields=["final_label", "reviewed_by", "reviewed_at", "needs_review", "updated_at"])
    ClassificationChange.objects.create(
        classification=classification,
        cause=ClassificationChange.Cause.REVIEW,
        from_label=previous,
        to_label=label,
        from_version=classification.model_version,
        to_version="human",
        actor_label=actor_label[:100],
    )
    audit_record(
        verb="classification.confirmed" if label == previous else "classification.corrected",
        obj=classification,
        actor=actor,
        details={"from": previous, "to": label},
    )
    _apply_policy(classification, actor=actor, actor_label=actor_label)
    return classification


@transaction.atomic
def classification_policy_after_apply(*, reply_id: int, actor_label: str) -> Classification | None:
    """A person applied a reply that was held (sender not verified): act on its label now, as the
    classifier would have on arrival. Nothing to do when it is not classified yet (it will be)."""
    classification = Classification.objects.select_for_update().filter(reply_id=reply_id).first()
    if classification is None:
        return None
    _apply_policy(classification, actor=None, actor_label=actor_label)
    return classification


def _apply_policy(classification: Classification, *, actor: Any, actor_label: str) -> None:
    """Act on the effective label. Call inside a transaction; records what it did on the row."""
    reply = classification.reply
    reply.refresh_from_db(fields=["held_for_review", "lead"])
    if reply.held_for_review:
        # Matched only by a From address nobody authenticated: a forged "no, stop" must not close
        # the lead or suppress its address. A person applies the reply first.
        classification.policy_action = Classification.PolicyAction.QUEUED
        classification.policy_note = HELD_NOTE
        classification.save(update_fields=["policy_action", "policy_note", "updated_at"])
        board_version_bump()
        return
    label = classification.effective_label
    _notify_owner(classification, reply=reply, label=label)
    if label == Label.NEGATIVE and classification.unsubscribe_intent and classification.suppressed_at is None:
        _suppress(classification, actor_label=actor_label)
    if classification.needs_review:
        classification.policy_action = Classification.PolicyAction.QUEUED
    elif label != Label.NEGATIVE:
        if classification.policy_action == Classification.PolicyAction.MOVED_TO_LOST:
            classification.policy_note = (
                "The classifier had moved this lead to Lost; move it back on the board if needed."
            )
        else:
            classification.policy_action = Classification.PolicyAction.NONE
    elif classification.policy_action != Classification.PolicyAction.MOVED_TO_LOST:
        _close_lead(classification, reply=reply, actor=actor, actor_label=actor_label)
    classification.save(update_fields=["policy_action", "policy_note", "suppressed_at", "updated_at"])
    board_version_bump()


def _notify_owner(classification: Classification, *, reply: InboundReply, label: str) -> None:
    """A positive reply, or one waiting for a person: once per classification (the key)."""
    if classification.needs_review:
        kind, headline = "reply_needs_review", "A reply needs your review"
    elif label == Label.POSITIVE:
        kind, headline = "reply_positive", "Positive reply"
    else:
        return
    who = reply.lead.name if reply.lead and reply.lead.name else reply.from_email
    excerpt = " ".join(strip_reply(reply.body or reply.subject).split())[:280]
    if reply.lead is not None:
        link = reverse("board:lead-detail", args=[reply.lead.public_id])
    else:
        link = reverse("admin:classify_classification_change", args=[classification.pk])
    lines = [f"{who} replied: \u201c{excerpt}\u201d" if excerpt else f"{who} replied."]
    if classification.needs_review:
        lines.append(f"Why it needs you: {classification.review_reason or 'the classifier was unsure'}.")
    owner_notify(
        kind=kind,
        key=f"{kind}:{classification.pk}",
        subject=f"{headline}: {who}",
        text="\n".join(lines),
        link=link,
    )


def _close_lead(classification: Classification, *, reply: InboundReply, actor: Any, actor_label: str) -> None:
    skipped = Classification.PolicyAction.LOST_SKIPPED
    lead = reply.lead
    if lead is None:
        classification.policy_action, classification.policy_note = skipped, "The reply is not matched to a lead."
        return
    lead.refresh_from_db(fields=["stage", "merged_into"])
    if lead.stage not in AUTO_LOST_FROM and actor is None:
        classification.policy_action = skipped
        classification.policy_note = (
            f"The lead is in {stage_label(lead.stage)}; a negative reply at that stage is left to the owner."
        )
        return
    if classification.final_label:
        reason = f"Reply marked negative by {actor_label}"
    else:
        reason = f"Reply classified negative ({classification.confidence:.0%}, {classification.backend})"
    try:
        lead_move_stage(lead=lead, to_stage=Stage.LOST, actor=actor, actor_label=actor_label, reason=reason)
    except DomainError as exc:
        classification.policy_action, classification.policy_note = skipped, str(exc)[:255]
        return
    classification.policy_action = Classification.PolicyAction.MOVED_TO_LOST
    classification.policy_note = reason[:255]


def _suppress(classification: Classification, *, actor_label: str) -> None:
    suppression_add(email=classification.reply.from_email, reason="asked to stop in a reply", actor_label=actor_label)
    classification.suppressed_at = timezone.now()


def classification_relabel(
    *, classification: Classification, verdict: Verdict, actor_label: str
) -> ClassificationChange | None:
    """Store a newer verdict for a label no person has confirmed (backfill). Never moves a lead.

    A change to negative goes to the review queue rather than closing the lead silently.
    """
    if classification.final_label:
        return None
    with transaction.atomic():
        locked = Classification.objects.select_for_update().get(pk=classification.pk)
        if locked.final_label or (
            locked.label == verdict.label and locked.model_version == verdict.model_version[:100]
        ):
            return None
        change = None
        if locked.label != verdict.label:
            change = ClassificationChange.objects.create(
                classification=locked,
                cause=ClassificationChange.Cause.BACKFILL,
                from_label=locked.label,
                to_label=verdict.label,
                from_version=locked.model_version,
                to_version=verdict.model_version[:100],
                actor_label=actor_label[:100],
            )
        reasons = list(verdict.review_reasons)
        if change is not None and verdict.label == Label.NEGATIVE:
            reasons.append(f"Re-classified from {locked.label} to negative by a backfill: check before closing.")
        locked.label = verdict.label
        locked.confidence = round(verdict.confidence, 4)
        locked.backend = verdict.backend
        locked.prompt_version = verdict.prompt_version
        locked.model_version = verdict.model_version[:100]
        locked.rationale = verdict.rationale[:500]
        locked.local_label, locked.local_confidence = verdict.local_label, verdict.local_confidence
        locked.unsubscribe_intent = verdict.unsubscribe_intent
        if reasons:
            locked.needs_review, locked.review_reason = True, " ".join(reasons)[:255]
            locked.policy_action = Classification.PolicyAction.QUEUED
        locked.save()
        if change is not None:
            audit_record(
                verb="classification.relabelled",
                obj=locked,
                actor_label=actor_label,
                details={"from": change.from_label, "to": change.to_label, "version": locked.model_version},
            )
        board_version_bump()
        return change
