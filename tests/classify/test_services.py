from __future__ import annotations

import pytest
from django.utils import timezone

from classify.models import Classification, ClassificationChange, PromptVersion
from classify.prompts import DEFAULT_PROMPT_NAME
from classify.selectors import champion_prompt
from classify.services.classification import (
    classification_relabel,
    classification_review,
    replies_classify_pending,
    reply_classify,
)
from classify.services.prompts import prompt_ensure_champion
from clientsflow.models import AuditEvent
from leads.models import Stage, StageChange
from outreach.services.suppression import is_suppressed
from tests.classify.conftest import tool_use_answer
from tests.classify.factories import InboundReplyFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_confident_negative_moves_the_lead_to_lost_with_the_reason(anthropic_off) -> None:
    reply = InboundReplyFactory(body="No thanks, we already have an agency we're happy with.")
    classification = reply_classify(reply_id=reply.pk)
    reply.lead.refresh_from_db()
    assert classification.label == "negative" and not classification.needs_review
    assert classification.policy_action == Classification.PolicyAction.MOVED_TO_LOST
    assert reply.lead.stage == Stage.LOST
    change = StageChange.objects.get(lead=reply.lead, to_stage=Stage.LOST)
    assert change.actor_label == "reply classifier"
    assert change.reason.startswith("Reply classified negative (")
    assert AuditEvent.objects.filter(verb="classification.created", object_id=str(classification.pk)).exists()


def test_borderline_negative_goes_to_the_review_queue_and_leaves_the_lead(anthropic_off, settings) -> None:
    settings.CLASSIFY_LOST_THRESHOLD = 0.99999
    reply = InboundReplyFactory(body="Not interested.")
    classification = reply_classify(reply_id=reply.pk)
    reply.lead.refresh_from_db()
    assert classification.label == "negative"
    assert classification.needs_review
    assert "below the" in classification.review_reason
    assert classification.policy_action == Classification.PolicyAction.QUEUED
    assert reply.lead.stage == Stage.REPLIED


def test_disagreement_between_local_and_anthropic_goes_to_the_queue(anthropic_transport) -> None:
    reply = InboundReplyFactory(body="Sure, when works for you?")
    anthropic_transport.queue(200, tool_use_answer(label="negative", confidence=0.97))
    classification = reply_classify(reply_id=reply.pk, client=anthropic_transport.client())
    assert len(anthropic_transport.requests) == 1
    reply.lead.refresh_from_db()
    assert classification.backend == "anthropic" and classification.label == "negative"
    assert classification.local_label == "positive"
    assert classification.needs_review
    assert "disagree" in classification.review_reason
    assert reply.lead.stage == Stage.REPLIED  # a disagreement never closes the lead


def test_positive_reply_changes_no_stage_and_shows_a_badge(anthropic_off) -> None:
    from board.selectors import card_badges, needs_you

    reply = InboundReplyFactory(body="Not sure it's a fit, but happy to chat.")
    other = LeadFactory()
    classification = reply_classify(reply_id=reply.pk)
    assert classification.label == "positive" and not classification.needs_review
    assert classification.policy_action == Classification.PolicyAction.NONE
    badges = card_badges([reply.lead.pk, other.pk])
    assert [b.label for b in badges[reply.lead.pk]] == ["Positive reply"]
    assert not [b for b in badges[other.pk] if b.label in {"Positive reply", "Reply needs review"}]
    counts = {c.key: c.count for c in needs_you()}
    assert counts["classify_positive"] == 1 and counts["classify_review"] == 0


def test_a_positive_reply_badge_clears_once_the_lead_is_past_replied(anthropic_off) -> None:
    from board.selectors import card_badges
    from leads.services.stages import lead_move_stage

    reply = InboundReplyFactory(body="Not sure it's a fit, but happy to chat.")
    assert reply_classify(reply_id=reply.pk).label == "positive"
    lead = reply.lead
    lead.refresh_from_db()
    assert lead.stage == Stage.REPLIED
    assert "Positive reply" in [b.label for b in card_badges([lead.pk])[lead.pk]]
    lead_move_stage(lead=lead, to_stage=Stage.BOOKED, actor_label="booking")
    assert "Positive reply" not in [b.label for b in card_badges([lead.pk])[lead.pk]]


def test_badges_cost_one_query_whatever_the_number_of_leads(anthropic_off, django_assert_num_queries) -> None:
    from classify.selectors import reply_badges

    replies = [InboundReplyFactory(body="Sure, when?") for _ in range(5)]
    for reply in replies:
        reply_classify(reply_id=reply.pk)
    with django_assert_num_queries(1):
        badges = reply_badges([r.lead_id for r in replies])
    assert len(badges) == 5


def test_unsubscribe_intent_suppresses_the_address(anthropic_off) -> None:
    reply = InboundReplyFactory(body="Not interested, please remove me from your list.")
    classification = reply_classify(reply_id=reply.pk)
    assert classification.unsubscribe_intent and classification.label == "negative"
    assert classification.suppressed_at is not None
    assert is_suppressed(reply.from_email)


def test_unsubscribe_words_in_a_positive_reply_go_to_review_and_suppress_nothing(anthropic_off) -> None:
    reply = InboundReplyFactory(body="Not the usual spam, I'll bite. What's the catch?")
    classification = reply_classify(reply_id=reply.pk)
    assert classification.label == "positive" and classification.needs_review
    assert "Mentions “spam” but does not ask to stop email" in classification.review_reason
    assert not classification.unsubscribe_intent
    assert not is_suppressed(reply.from_email)


def test_negative_from_a_lead_further_along_is_left_to_the_owner(anthropic_off) -> None:
    reply = InboundReplyFactory(body="No thanks, we already have an agency we're happy with.", lead__stage=Stage.BOOKED)
    classification = reply_classify(reply_id=reply.pk)
    reply.lead.refresh_from_db()
    assert classification.policy_action == Classification.PolicyAction.LOST_SKIPPED
    assert "Booked" in classification.policy_note
    assert reply.lead.stage == Stage.BOOKED


def test_illegal_move_is_skipped_and_recorded(anthropic_off) -> None:
    survivor = LeadFactory()
    reply = InboundReplyFactory(
        body="No thanks, we already have an agency we're happy with.", lead__merged_into=survivor
    )
    classification = reply_classify(reply_id=reply.pk)
    reply.lead.refresh_from_db()
    assert classification.policy_action == Classification.PolicyAction.LOST_SKIPPED
    assert "merged into another" in classification.policy_note
    assert reply.lead.stage == Stage.REPLIED


def test_unmatched_reply_is_classified_without_a_lead(anthropic_off) -> None:
    reply = InboundReplyFactory(lead=None, from_email="stranger@example.com", body="Not interested.")
    classification = reply_classify(reply_id=reply.pk)
    assert classification.policy_action == Classification.PolicyAction.LOST_SKIPPED
    assert classification.policy_note == "The reply is not matched to a lead."


def test_a_reply_with_only_a_quote_goes_to_review(anthropic_off) -> None:
    reply = InboundReplyFactory(body="On Mon, Nov 23, 2026 at 9:14 AM Owen <o@a.com> wrote:\n> Happy to chat?")
    classification = reply_classify(reply_id=reply.pk)
    assert classification.label == "neutral" and classification.needs_review


def test_classifying_twice_keeps_the_first_result(anthropic_off) -> None:
    reply = InboundReplyFactory(body="Sure, when?")
    first = reply_classify(reply_id=reply.pk)
    assert reply_classify(reply_id=reply.pk).pk == first.pk
    assert Classification.objects.count() == 1


def test_the_dispatcher_job_classifies_each_stored_reply_once(anthropic_off) -> None:
    from clientsflow.dispatcher import registry
    from outreach.services.replies import IncomingMail, reply_intake

    lead = LeadFactory(email="ada@client.example")
    reply, _ = reply_intake(
        mail=IncomingMail(
            from_email="ada@client.example",
            to_email="owner@agency.example",
            subject="Re: hello",
            body="Sure, when?",
            message_id="<r-1@client.example>",
            in_reply_to="",
            references="",
            received_at=timezone.now(),
        ),
        source="imap",
    )
    assert reply.lead == lead and not Classification.objects.filter(reply=reply).exists()

    assert registry()["replies_classify"].func() == {"classified": 1, "failed": 0, "applied": 0}
    assert Classification.objects.get(reply=reply).label == "positive"
    assert replies_classify_pending() == {"classified": 0, "failed": 0, "applied": 0}  # nothing is classified twice


def test_the_job_goes_on_past_a_reply_that_fails(anthropic_off, monkeypatch) -> None:
    import classify.services.classification as service

    first, second = InboundReplyFactory(body="boom"), InboundReplyFactory(body="Sure, when?")
    real = service.classify_text

    def broken_on_boom(*, text, client=None):  # type: ignore[no-untyped-def]
        if text == "boom":
            raise RuntimeError("model file unreadable")
        return real(text=text, client=client)

    monkeypatch.setattr(service, "classify_text", broken_on_boom)

    assert replies_classify_pending() == {"classified": 1, "failed": 1, "applied": 0}
    assert not Classification.objects.filter(reply=first).exists()
    assert Classification.objects.filter(reply=second).exists()


def test_review_correcting_to_negative_closes_the_lead_and_records_who(anthropic_off, admin_user) -> None:
    reply = InboundReplyFactory(body="Hmm, let me see what my boss thinks.")
    classification = reply_classify(reply_id=reply.pk)
    result = classification_review(classification_id=classification.pk, label="negative", actor=admin_user)
    reply.lead.refresh_from_db()
    assert result.final_label == "negative" and result.reviewed_by == admin_user and result.reviewed_at
    assert reply.lead.stage == Stage.LOST
    assert StageChange.objects.get(lead=reply.lead, to_stage=Stage.LOST).changed_by == admin_user
    change = ClassificationChange.objects.get(classification=result)
    assert (change.cause, change.to_label, change.actor_label) == ("review", "negative", admin_user.username)


def test_review_confirming_a_positive_clears_the_queue(anthropic_off, admin_user) -> None:
    reply = InboundReplyFactory(body="Not the usual spam, I'll bite. What's the catch?")
    classification = reply_classify(reply_id=reply.pk)
    result = classification_review(classification_id=classification.pk, label="positive", actor=admin_user)
    assert not result.needs_review and result.final_label == "positive"
    assert result.policy_action == Classification.PolicyAction.NONE
    assert AuditEvent.objects.filter(verb="classification.confirmed").exists()


def test_relabel_never_touches_a_human_label(anthropic_off, admin_user) -> None:
    from classify.services.classification import classify_text

    reply = InboundReplyFactory(body="Sure, when?")
    classification = reply_classify(reply_id=reply.pk)
    classification_review(classification_id=classification.pk, label="neutral", actor=admin_user)
    classification.refresh_from_db()
    verdict = classify_text(text="Not interested.", use_anthropic=False)
    assert classification_relabel(classification=classification, verdict=verdict, actor_label="test") is None
    classification.refresh_from_db()
    assert classification.effective_label == "neutral"


def test_reading_the_champion_writes_nothing_and_ensuring_it_installs_the_builtin_once() -> None:
    PromptVersion.objects.all().delete()  # a database emptied since the migration installed it
    assert champion_prompt() is None and not PromptVersion.objects.exists()
    first = prompt_ensure_champion()
    assert first.name == DEFAULT_PROMPT_NAME and first.status == PromptVersion.Status.CHAMPION
    assert prompt_ensure_champion().pk == first.pk and PromptVersion.objects.count() == 1
    assert champion_prompt() == first


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("Not the usual spam, I'll bite. What's the catch?", False),
        ("Add me to your mailing list, happy to hear more.", False),
        ("Please remove me from your list.", True),
        ("This is spam.", True),
        ("Stop spamming me", True),
        ("Take me off your mailing list", True),
        ("Bitte austragen", True),
    ],
)
def test_only_a_request_counts_as_asking_to_stop(text: str, asks: bool) -> None:
    from classify.cues import has_unsubscribe_intent

    assert has_unsubscribe_intent(text) is asks
