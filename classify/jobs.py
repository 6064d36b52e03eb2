"""Periodic classification work for the dispatcher."""

from __future__ import annotations

from classify.services.classification import replies_classify_pending
from clientsflow.dispatcher import Every, job


@job("replies_classify", Every(minutes=1), "Classify the replies that arrived since the last tick.")
def replies_classify() -> dict[str, int]:
    return replies_classify_pending()
