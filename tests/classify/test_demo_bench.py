from __future__ import annotations

import random

import pytest
from django.utils import timezone

from classify.bench import classify_bench
from classify.demo import seed_replies
from classify.models import Classification
from clientsflow.demo import DemoContext
from leads.models import Stage
from outreach.models import InboundReply
from tests.classify.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_demo_seeder_creates_classified_replies_some_in_review(admin_user) -> None:
    by_stage = {
        stage: [LeadFactory(stage=stage).pk for _ in range(count)]
        for stage, count in ((Stage.REPLIED, 6), (Stage.BOOKED, 2), (Stage.LOST, 2), (Stage.NEW, 3))
    }
    ctx = DemoContext(
        rng=random.Random(7), now=timezone.now(), owner=admin_user, leads_by_stage=by_stage, log=lambda m: None
    )
    figures = seed_replies(ctx)
    assert figures["replies"] == 10  # not for the `new` leads
    assert InboundReply.objects.filter(source="demo").count() == 10
    assert Classification.objects.count() == 10
    assert figures["replies_needing_review"] >= 1
    assert Classification.objects.filter(needs_review=True).count() == figures["replies_needing_review"]
    lost_labels = set(Classification.objects.filter(reply__lead__stage=Stage.LOST).values_list("label", flat=True))
    assert lost_labels == {"negative"}
    assert seed_replies(ctx)["replies"] == 0  # a second run adds nothing


def test_bench_section_reports_the_targets_and_speed() -> None:
    figures = classify_bench(quick=True, log=lambda m: None)
    assert figures["test_accuracy"] >= 0.90
    assert figures["test_fn_rate_positive_to_negative"] <= 0.02
    # Speed is reported by `make bench`, not asserted here: a loaded machine must not fail the suite.
    assert figures["replies_per_second_one_core"] > 0
    assert figures["model_load_ms"] > 0
