"""The classifier's share of the board: positive-reply badges, review badges, "needs you" counts."""

from __future__ import annotations

from classify.models import Label
from classify.selectors import latest_by_lead, positive_waiting, review_queue
from clientsflow.attention import Badge, register_card_badges, register_needs_you


def reply_badges(lead_ids: list[int]) -> dict[int, list[Badge]]:
    badges: dict[int, list[Badge]] = {}
    for lead_id, classification in latest_by_lead(lead_ids).items():
        if classification.needs_review:
            badges[lead_id] = [
                Badge("Reply needs review", "warn", "The classifier is unsure: confirm it in the admin.")
            ]
        elif classification.effective_label == Label.POSITIVE:
            badges[lead_id] = [Badge("Positive reply", "good", "They want to talk: answer them.")]
    return badges


register_card_badges("classify", reply_badges)
register_needs_you(
    "classify_positive",
    "Positive replies to answer",
    url="/admin/classify/classification/?positive_waiting=1",
    count=lambda: positive_waiting().count(),
    order=20,
)
register_needs_you(
    "classify_review",
    "Replies to review",
    url="/admin/classify/classification/?needs_review__exact=1",
    count=lambda: review_queue().count(),
    order=25,
)
