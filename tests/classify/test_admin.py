from __future__ import annotations

import pytest
from django.urls import reverse

from classify.models import Classification, PromotionDecision
from classify.services.classification import reply_classify
from leads.models import Stage
from tests.classify.factories import InboundReplyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(anthropic_off) -> Classification:
    # Unsubscribe words inside a positive reply: the signals disagree, so it waits for a person.
    classification = reply_classify(
        reply_id=InboundReplyFactory(body="Not the usual spam, I'll bite. What's the catch?").pk
    )
    assert classification.needs_review
    return classification


def test_review_queue_lists_the_reply_with_one_click_buttons(admin_client, queued) -> None:
    response = admin_client.get(reverse("admin:classify_classification_changelist") + "?needs_review__exact=1")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Not the usual spam" in html
    assert reverse("admin:classify_classification_review", args=[queued.pk, "positive"]) in html
    assert "Confirm positive" in html and "Correct to negative" in html and "Correct to neutral" in html
    assert 'name="csrfmiddlewaretoken"' in html  # the buttons submit the changelist's own form


def test_one_click_correct_to_negative_records_the_reviewer_and_closes_the_lead(
    admin_client, admin_user, queued
) -> None:
    url = reverse("admin:classify_classification_review", args=[queued.pk, "negative"])
    response = admin_client.post(url, follow=True)
    assert response.status_code == 200
    queued.refresh_from_db()
    assert (queued.final_label, queued.reviewed_by, queued.needs_review) == ("negative", admin_user, False)
    assert queued.reply.lead.stage == Stage.LOST
    assert f"Corrected to negative (declines); {queued.reply.lead} moved to Lost." in response.content.decode()


def test_review_url_refuses_get(admin_client, queued) -> None:
    response = admin_client.get(reverse("admin:classify_classification_review", args=[queued.pk, "positive"]))
    assert response.status_code == 405
    queued.refresh_from_db()
    assert queued.needs_review


def test_review_needs_staff(client, queued) -> None:
    response = client.post(reverse("admin:classify_classification_review", args=[queued.pk, "positive"]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    queued.refresh_from_db()
    assert queued.needs_review


def test_an_unknown_label_is_refused_with_a_message(admin_client, queued) -> None:
    response = admin_client.post(
        reverse("admin:classify_classification_review", args=[queued.pk, "maybe"]), follow=True
    )
    assert "is not a label" in response.content.decode()
    queued.refresh_from_db()
    assert queued.needs_review


def test_bulk_confirm_action(admin_client, queued) -> None:
    response = admin_client.post(
        reverse("admin:classify_classification_changelist"),
        {"action": "confirm_selected", "_selected_action": [queued.pk]},
        follow=True,
    )
    assert response.status_code == 200
    queued.refresh_from_db()
    assert queued.final_label == "positive" and not queued.needs_review


def test_positive_waiting_filter_and_decision_log_pages(admin_client, anthropic_off) -> None:
    reply_classify(reply_id=InboundReplyFactory(body="Sure, when works for you?").pk)
    response = admin_client.get(reverse("admin:classify_classification_changelist") + "?positive_waiting=1")
    assert response.status_code == 200 and "Sure, when works for you?" in response.content.decode()
    PromotionDecision.objects.create(
        kind="prompt",
        candidate="v2",
        champion="builtin-v1",
        candidate_accuracy=0.9,
        candidate_fn_rate=0.0,
        dataset="test.jsonl",
        dataset_sha256="0" * 64,
        examples=10,
        promoted=False,
        reason="Refused: test.",
        decided_by="classify_eval",
    )
    response = admin_client.get(reverse("admin:classify_promotiondecision_changelist"))
    assert response.status_code == 200 and "Refused: test." in response.content.decode()
    assert admin_client.get(reverse("admin:classify_promptversion_changelist")).status_code == 200


def test_the_reason_shown_is_the_right_one(admin_client, queued) -> None:
    # "spam" is mentioned, nobody asked to stop: the reason says so, and nothing is suppressed.
    assert not queued.unsubscribe_intent
    assert "Asks to stop email" not in queued.review_reason
    assert "Mentions “spam” but does not ask to stop email" in queued.review_reason
    html = admin_client.get(reverse("admin:classify_classification_changelist")).content.decode()
    assert "Mentions “spam”" in html and "Asks to stop email" not in html


def test_reply_is_one_line_in_the_list_and_a_block_in_the_form(admin_client, queued) -> None:
    html = admin_client.get(reverse("admin:classify_classification_changelist")).content.decode()
    assert '<span class="reply-excerpt" title="Not the usual spam, I&#x27;ll bite. What&#x27;s the catch?">' in html
    page = admin_client.get(reverse("admin:classify_classification_change", args=[queued.pk])).content.decode()
    assert '<div class="reply-text">Not the usual spam, I&#x27;ll bite. What&#x27;s the catch?</div>' in page
    assert page.index("Their words") < page.index("Why it needs review")
    assert "clientsflow/admin.css" in page  # the stylesheet that keeps the column wide


def test_the_form_shows_confidence_as_a_percentage(admin_client, queued) -> None:
    page = admin_client.get(reverse("admin:classify_classification_change", args=[queued.pk])).content.decode()
    assert f"{queued.confidence:.0%}" in page
    assert f">{queued.confidence}<" not in page and f"{queued.confidence:.4f}" not in page


def test_confirming_says_what_happened(admin_client, queued) -> None:
    url = reverse("admin:classify_classification_review", args=[queued.pk, "positive"])
    page = admin_client.post(url, follow=True).content.decode()
    lead = queued.reply.lead
    lead.refresh_from_db()
    assert f"Confirmed as positive (wants to talk); {lead} stays in {lead.get_stage_display()}." in page
