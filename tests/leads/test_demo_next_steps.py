"""seed_demo's values, notes and tasks: some overdue, all on the timeline."""

import random
from datetime import UTC, datetime

import pytest

from clientsflow.demo import DemoContext
from leads.demo import demo_leads_create, demo_owner, seed_next_steps
from leads.models import Lead, LeadEvent, Note, Task
from leads.next_steps import tasks_due_count

pytestmark = pytest.mark.django_db


def test_demo_next_steps_fill_values_notes_and_tasks_some_overdue():
    now = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    rng = random.Random(7)
    owner = demo_owner()
    created = demo_leads_create(count=300, rng=rng, now=now, owner=owner)
    ctx = DemoContext(rng=rng, now=now, owner=owner, leads_by_stage=created.leads_by_stage, log=lambda _: None)
    counts = seed_next_steps(ctx)
    assert counts["values"] == Lead.objects.filter(value_minor__isnull=False).count() > 0
    assert counts["notes"] == Note.objects.count() == LeadEvent.objects.filter(kind="note").count() > 0
    assert counts["tasks"] == Task.objects.count() == LeadEvent.objects.filter(kind="task_added").count() > 0
    assert counts["tasks_overdue"] == Task.objects.filter(done_at__isnull=True, due_at__lt=now).count() > 0
    assert tasks_due_count(now=now) >= counts["tasks_overdue"]
    assert not Lead.objects.filter(value_minor__isnull=False, value_currency="").exists()
