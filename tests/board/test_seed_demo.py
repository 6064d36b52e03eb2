"""seed_demo: reproducible demo leads across every stage, legal history, --if-empty, seeders run."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from board import demo as board_demo
from board.demo import demo_seed
from clientsflow.demo import DemoContext
from leads.demo import stage_path
from leads.models import ALLOWED_MOVES, Lead, LeadEvent, Stage, StageChange
from leads.services.identity import normalize_email, normalize_phone

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def only_these_seeders(monkeypatch):
    """Replace the other apps' seeders (tested in their own apps) with the given ones."""

    def use(seeders: dict) -> None:
        monkeypatch.setattr(board_demo, "SEEDERS", seeders)

    use([])
    return use


def snapshot() -> list[tuple]:
    leads = Lead.objects.order_by("id")
    rows = []
    for lead in leads:
        history = [
            (c.from_stage, c.to_stage, c.actor_label, c.reason, c.changed_at)
            for c in lead.stage_changes.order_by("changed_at", "id")
        ]
        rows.append(
            (
                lead.name,
                lead.email,
                lead.phone,
                lead.company,
                lead.source,
                lead.stage,
                lead.created_at,
                lead.seen_at,
                lead.lost_reason,
                lead.nurture_until,
                tuple(history),
            )
        )
    return rows


def wipe() -> None:
    StageChange.objects.all().delete()
    LeadEvent.objects.all().delete()
    Lead.objects.all().delete()


def test_the_same_seed_gives_the_same_data_and_another_seed_does_not(only_these_seeders):
    demo_seed(leads=40, seed=5, now=NOW, log=lambda _: None)
    first = snapshot()
    wipe()
    demo_seed(leads=40, seed=5, now=NOW, log=lambda _: None)
    second = snapshot()
    wipe()
    demo_seed(leads=40, seed=6, now=NOW, log=lambda _: None)

    assert len(first) == 40
    assert first == second
    assert snapshot() != first


def test_every_stage_is_present_with_consistent_history_and_times(only_these_seeders):
    result = demo_seed(leads=60, seed=1, now=NOW, log=lambda _: None)

    assert set(Lead.objects.values_list("stage", flat=True)) == set(Stage.values)
    assert {s: len(ids) for s, ids in result.leads.leads_by_stage.items()} == {
        s: Lead.objects.filter(stage=s).count() for s in Stage.values
    }
    for lead in Lead.objects.prefetch_related("stage_changes"):
        assert NOW - timedelta(weeks=8) <= lead.created_at < NOW
        changes = sorted(lead.stage_changes.all(), key=lambda c: c.changed_at)
        previous = Stage.NEW
        for change in changes:
            assert change.from_stage == previous
            assert change.to_stage in ALLOWED_MOVES[Stage(previous)]
            assert lead.created_at < change.changed_at < NOW
            previous = change.to_stage
        assert previous == lead.stage
        if changes:
            assert lead.stage_changed_at == changes[-1].changed_at
        assert LeadEvent.objects.filter(lead=lead, kind=LeadEvent.Kind.CREATED, at=lead.created_at).exists()
        assert lead.email_normalized == normalize_email(lead.email)
        assert lead.phone_e164 == normalize_phone(lead.phone)
        assert lead.email or lead.phone
    lost = Lead.objects.filter(stage=Stage.LOST)
    assert all(lead.lost_reason for lead in lost)
    assert all(lead.nurture_until and lead.nurture_until > NOW.date() for lead in Lead.objects.filter(stage="nurture"))
    assert Lead.objects.filter(seen_at__isnull=True).exists()
    assert Lead.objects.filter(seen_at__isnull=False).exists()
    assert not Lead.objects.filter(seen_at__isnull=True).exclude(stage=Stage.NEW).exists()


def test_every_generated_path_is_legal():
    rng = random.Random(0)
    for stage in Stage.values:
        for _ in range(30):
            previous = Stage.NEW
            for to_stage in stage_path(stage, rng):
                assert to_stage in ALLOWED_MOVES[Stage(previous)], f"{previous} -> {to_stage}"
                previous = to_stage
            assert previous == stage


def test_owner_is_created_with_an_unusable_password_and_owner_moves_name_them(only_these_seeders):
    demo_seed(leads=20, seed=2, now=NOW, log=lambda _: None)

    owner = get_user_model().objects.get(username="owner")
    assert owner.is_superuser and not owner.has_usable_password()
    assert StageChange.objects.filter(to_stage=Stage.CONTACTED, changed_by=owner, actor_label="owner").exists()


def test_seeding_twice_adds_new_leads_without_colliding(only_these_seeders):
    demo_seed(leads=30, seed=1, now=NOW, log=lambda _: None)
    demo_seed(leads=30, seed=1, now=NOW, log=lambda _: None)

    assert Lead.objects.count() == 60
    assert Lead.objects.exclude(email_normalized="").values("email_normalized").distinct().count() == (
        Lead.objects.exclude(email_normalized="").count()
    )


def test_the_seeders_get_the_context_and_their_counts_are_printed(only_these_seeders):
    seen: dict[str, object] = {}

    def seeder(ctx: DemoContext) -> dict[str, int]:
        seen["booked"] = list(ctx.leads_by_stage[Stage.BOOKED])
        seen["owner"] = ctx.owner.username
        return {"widgets": 7}

    only_these_seeders([("test_widgets", seeder)])
    out = StringIO()

    call_command("seed_demo", "--leads", "25", "--seed", "4", stdout=out)

    assert seen["owner"] == "owner"
    assert seen["booked"] == list(Lead.objects.filter(stage=Stage.BOOKED).order_by("id").values_list("id", flat=True))
    assert "Created 25 demo leads" in out.getvalue()
    assert "Demo test_widgets: widgets 7 (" in out.getvalue()


def test_if_empty_does_nothing_when_leads_exist():
    call_command("seed_demo", "--leads", "15", stdout=StringIO())
    before = list(Lead.objects.values_list("id", flat=True))
    out = StringIO()

    call_command("seed_demo", "--leads", "15", "--if-empty", stdout=out)

    assert list(Lead.objects.values_list("id", flat=True)) == before
    assert "skipped" in out.getvalue()


def test_if_empty_seeds_an_empty_database():
    call_command("seed_demo", "--leads", "12", "--if-empty", stdout=StringIO())

    assert Lead.objects.count() == 12
