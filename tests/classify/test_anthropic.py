"""The Anthropic backend through the real SDK, HTTP answered at the transport."""

from __future__ import annotations

import pytest

from classify.clients.anthropic import (
    TOOL_NAME,
    AnthropicMalformed,
    AnthropicOverloaded,
    AnthropicRateLimited,
    AnthropicSpendLimit,
    classify_reply_text,
)
from classify.prompts import DEFAULT_SYSTEM_PROMPT
from classify.services.classification import reply_classify
from tests.classify.conftest import fixture_json, tool_use_answer
from tests.classify.factories import InboundReplyFactory

pytestmark = pytest.mark.django_db

FAST_RETRY = {"retry-after-ms": "1"}


def test_success_sends_cached_instructions_and_a_forced_tool_and_reads_the_answer(anthropic_transport) -> None:
    anthropic_transport.queue(200, fixture_json("anthropic_tool_use.json"))
    verdict = classify_reply_text(
        text="Sure, when works for you?", system_prompt="Classify.", client=anthropic_transport.client()
    )
    assert (verdict.label, verdict.confidence, verdict.unsubscribe) == ("positive", 0.93, False)
    assert verdict.model == "claude-haiku-4-5-20251001"
    assert verdict.usage["cache_read_input_tokens"] == 412
    sent = anthropic_transport.sent_json()
    assert sent["system"] == [{"type": "text", "text": "Classify.", "cache_control": {"type": "ephemeral"}}]
    assert sent["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    assert sent["tools"][0]["input_schema"]["properties"]["label"]["enum"] == ["positive", "negative", "neutral"]
    assert sent["messages"] == [{"role": "user", "content": "<reply>\nSure, when works for you?\n</reply>"}]
    request = anthropic_transport.requests[0]
    assert request.headers["authorization"] == "Bearer sk-ant-api03-test-key"
    assert "anthropic-version" in request.headers


def test_the_service_stores_the_anthropic_label_with_the_champion_prompt(anthropic_transport) -> None:
    reply = InboundReplyFactory(
        body="Sure, when works for you?\n\nOn Mon, Nov 23, 2026 at 9:14 AM Owen <o@a.com> wrote:\n> Not interested? Reply no."
    )
    anthropic_transport.queue(200, tool_use_answer(label="positive", confidence=0.95))
    classification = reply_classify(reply_id=reply.pk, client=anthropic_transport.client())
    assert classification.backend == "anthropic" and classification.label == "positive"
    assert not classification.needs_review
    assert classification.prompt_version.name == "builtin-v1"
    sent = anthropic_transport.sent_json()
    assert sent["system"][0]["text"] == DEFAULT_SYSTEM_PROMPT
    assert "Not interested" not in sent["messages"][0]["content"]  # the quoted pitch is never sent


@pytest.mark.parametrize(
    "answer",
    [
        fixture_json("anthropic_text_only.json"),
        tool_use_answer(label="maybe"),
        tool_use_answer(confidence=1.7),
        tool_use_answer(confidence="high"),
    ],
    ids=["text-instead-of-tool", "unknown-label", "confidence-out-of-range", "confidence-not-a-number"],
)
def test_malformed_answer_falls_back_to_the_local_label_for_review(anthropic_transport, answer) -> None:
    anthropic_transport.queue(200, answer)
    with pytest.raises(AnthropicMalformed):
        classify_reply_text(text="Sure, when?", system_prompt="Classify.", client=anthropic_transport.client())

    anthropic_transport.queue(200, answer)
    reply = InboundReplyFactory(body="Sure, when works for you?")
    classification = reply_classify(reply_id=reply.pk, client=anthropic_transport.client())
    assert (classification.backend, classification.label) == ("local", "positive")
    assert classification.needs_review
    assert "could not be read" in classification.review_reason


def test_429_after_the_sdk_retries_falls_back_to_local_and_review(anthropic_transport) -> None:
    for _ in range(2):  # first try + the SDK's one retry
        anthropic_transport.queue(429, fixture_json("anthropic_rate_limit_error.json"), FAST_RETRY)
    with pytest.raises(AnthropicRateLimited):
        classify_reply_text(text="Sure, when?", system_prompt="x", client=anthropic_transport.client())
    assert len(anthropic_transport.requests) == 2

    for _ in range(2):
        anthropic_transport.queue(429, fixture_json("anthropic_rate_limit_error.json"), FAST_RETRY)
    reply = InboundReplyFactory(body="No thanks, we already have an agency we're happy with.")
    classification = reply_classify(reply_id=reply.pk, client=anthropic_transport.client())
    reply.lead.refresh_from_db()
    assert (classification.backend, classification.label, classification.needs_review) == ("local", "negative", True)
    assert "rate limit" in classification.review_reason
    assert reply.lead.stage == "replied"  # a fallback label never closes a lead on its own


def test_429_then_success_uses_the_retried_answer(anthropic_transport) -> None:
    anthropic_transport.queue(429, fixture_json("anthropic_rate_limit_error.json"), FAST_RETRY)
    anthropic_transport.queue(200, tool_use_answer(label="positive"))
    verdict = classify_reply_text(text="Sure", system_prompt="x", client=anthropic_transport.client())
    assert verdict.label == "positive" and len(anthropic_transport.requests) == 2


def test_529_overloaded_after_the_sdk_retries_falls_back(anthropic_transport) -> None:
    for _ in range(2):
        anthropic_transport.queue(529, fixture_json("anthropic_overloaded_error.json"), FAST_RETRY)
    reply = InboundReplyFactory(body="Sure, when works for you?")
    classification = reply_classify(reply_id=reply.pk, client=anthropic_transport.client())
    assert len(anthropic_transport.requests) == 2
    assert (classification.backend, classification.label, classification.needs_review) == ("local", "positive", True)
    assert "overloaded" in classification.review_reason

    for _ in range(2):
        anthropic_transport.queue(529, fixture_json("anthropic_overloaded_error.json"), FAST_RETRY)
    with pytest.raises(AnthropicOverloaded):
        classify_reply_text(text="Sure", system_prompt="x", client=anthropic_transport.client())


def test_spend_limit_is_not_retried(anthropic_transport) -> None:
    anthropic_transport.queue(400, fixture_json("anthropic_credit_balance_error.json"))
    with pytest.raises(AnthropicSpendLimit, match="credit balance is too low"):
        classify_reply_text(text="Sure", system_prompt="x", client=anthropic_transport.client(max_retries=3))
    assert len(anthropic_transport.requests) == 1

    anthropic_transport.queue(400, fixture_json("anthropic_credit_balance_error.json"))
    reply = InboundReplyFactory(body="Sure, when works for you?")
    classification = reply_classify(reply_id=reply.pk, client=anthropic_transport.client(max_retries=3))
    assert len(anthropic_transport.requests) == 2
    assert classification.backend == "local" and classification.needs_review
    assert "spend limit" in classification.review_reason


def test_without_a_key_the_local_model_is_used_and_nothing_is_sent(anthropic_off) -> None:
    reply = InboundReplyFactory(body="Sure, when works for you?")
    classification = reply_classify(reply_id=reply.pk)
    assert classification.backend == "local" and classification.model_version.startswith("local-")
