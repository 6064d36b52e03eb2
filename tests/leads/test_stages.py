"""The stage machine: one service, history + audit, illegal moves refused clearly."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from clientsflow.cache import board_stage_versions
from clientsflow.errors import IllegalStageMove, InvalidInput, StageConflict
from clientsflow.models import AuditEvent
from leads.models import Lead, Stage, StageChange
from leads.services.stages import lead_advance_stage, lead_move_stage
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_a_legal_move_writes_history_audit_and_bumps_the_board(admin_user, django_capture_on_commit_callbacks):
    lead = LeadFactory()
    before = board_stage_versions(["new", "contacted"])

    with django_capture_on_commit_callbacks(execute=True):
        change = lead_move_stage(lead=lead, to_stage=Stage.CONTACTED, actor=admin_user, reason="emailed")

    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED
    assert (change.from_stage, change.to_stage, change.changed_by, change.reason) == (
        "new",
        "contacted",
        admin_user,
        "emailed",
    )
    audit = AuditEvent.objects.get(verb="lead.stage_changed")
    assert audit.actor_user == admin_user
    assert audit.details == {"from": "new", "to": "contacted", "reason": "emailed"}
    after = board_stage_versions(["new", "contacted"])
    assert after["new"] > before["new"] and after["contacted"] > before["contacted"]


def test_an_illegal_move_is_refused_with_what_is_allowed_and_changes_nothing():
    lead = LeadFactory()

    with pytest.raises(IllegalStageMove) as refused:
        lead_move_stage(lead=lead, to_stage=Stage.PAID)

    assert "cannot move from New to Paid" in str(refused.value)
    assert "Contacted" in str(refused.value)
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW
    assert not StageChange.objects.exists()
    assert not AuditEvent.objects.filter(verb="lead.stage_changed").exists()


def test_paid_is_final():
    lead = LeadFactory(stage=Stage.SIGNED)
    lead_move_stage(lead=lead, to_stage=Stage.PAID)
    with pytest.raises(IllegalStageMove, match="final"):
        lead_move_stage(lead=lead, to_stage=Stage.SIGNED)


def test_lost_needs_a_reason_and_keeps_it():
    lead = LeadFactory()
    with pytest.raises(InvalidInput, match="reason"):
        lead_move_stage(lead=lead, to_stage=Stage.LOST)
    lead_move_stage(lead=lead, to_stage=Stage.LOST, reason="Went with another agency")
    lead.refresh_from_db()
    assert lead.lost_reason == "Went with another agency"


def test_a_move_based_on_a_stale_view_is_a_conflict():
    lead = LeadFactory()
    lead_move_stage(lead=Lead.objects.get(pk=lead.pk), to_stage=Stage.CONTACTED)

    with pytest.raises(StageConflict, match="moved to Contacted in the meantime"):
        lead_move_stage(lead=lead, to_stage=Stage.BOOKED, expected_stage=Stage.NEW)


def test_events_only_move_a_lead_forward():
    lead = LeadFactory(stage=Stage.BOOKED)

    assert lead_advance_stage(lead=lead, to_stage=Stage.REPLIED, actor_label="reply") is None
    assert lead_advance_stage(lead=lead, to_stage=Stage.BOOKED, actor_label="booking") is None
    change = lead_advance_stage(lead=lead, to_stage=Stage.CALL_DONE, actor_label="fireflies")

    assert change is not None and change.actor_label == "fireflies"
    lead.refresh_from_db()
    assert lead.stage == Stage.CALL_DONE


def test_the_database_refuses_an_unknown_stage():
    lead = LeadFactory()
    with pytest.raises(IntegrityError):
        Lead.objects.filter(pk=lead.pk).update(stage="winning")


def _moves_at(monkeypatch, lead: Lead, moves: list[tuple[str, datetime]]) -> list[StageChange]:
    """Move `lead` through `moves`, each at its own time (the clock the history stamps with)."""
    changes = []
    for to_stage, at in moves:
        monkeypatch.setattr(timezone, "now", lambda at=at: at)
        changes.append(lead_move_stage(lead=lead, to_stage=to_stage))
    monkeypatch.undo()
    return changes


def test_a_move_ends_the_stay_the_previous_move_began(monkeypatch):
    lead = LeadFactory()
    other = LeadFactory()
    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    moves = [
        (Stage.CONTACTED, t0),
        (Stage.REPLIED, t0 + timedelta(days=2, hours=3)),
        (Stage.BOOKED, t0 + timedelta(days=5)),
    ]
    _moves_at(monkeypatch, other, [(Stage.CONTACTED, t0 + timedelta(days=1))])
    _moves_at(monkeypatch, lead, moves)

    history = list(StageChange.objects.filter(lead=lead).order_by("changed_at"))
    assert [(c.to_stage, c.left_at, c.seconds_in_stage) for c in history] == [
        (Stage.CONTACTED, moves[1][1], timedelta(days=2, hours=3).total_seconds()),
        (Stage.REPLIED, moves[2][1], timedelta(days=2, hours=21).total_seconds()),
        (Stage.BOOKED, None, None),  # still there: an open stay has no end yet
    ]
    # Another lead's history is its own: its open stay was not ended by these moves.
    assert StageChange.objects.get(lead=other).left_at is None


def test_the_backfill_pairs_each_change_with_the_next_one_of_the_same_lead():
    """The migration's backfill (set-based SQL) ends each stay where the service would: at the
    lead's next change in (time, id) order, the last one left open; two changes at the same
    instant are a zero-length stay."""
    backfill = importlib.import_module("leads.migrations.0018_stagechange_stay_end").backfill_stay_ends
    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    plans = {
        LeadFactory(): [
            (Stage.CONTACTED, t0),
            (Stage.REPLIED, t0 + timedelta(hours=5)),
            (Stage.LOST, t0 + timedelta(hours=5)),
        ],
        LeadFactory(): [
            (Stage.BOOKED, t0 + timedelta(minutes=1)),
            (Stage.CALL_DONE, t0 + timedelta(days=3, seconds=7)),
        ],
        LeadFactory(): [(Stage.CONTACTED, t0 + timedelta(days=1))],
    }
    for lead, moves in plans.items():
        for to_stage, at in moves:
            change = StageChange.objects.create(lead=lead, to_stage=to_stage, actor_label="import")
            StageChange.objects.filter(pk=change.pk).update(changed_at=at)  # history written without ends

    backfill(None, SimpleNamespace(connection=connection))  # it uses only the editor's connection

    for lead, moves in plans.items():
        history = list(StageChange.objects.filter(lead=lead).order_by("changed_at", "id"))
        ends = [at for _, at in moves[1:]] + [None]
        assert [c.left_at for c in history] == ends
        for change, end in zip(history, ends, strict=True):
            if end is None:
                assert change.seconds_in_stage is None
            else:
                assert change.seconds_in_stage == pytest.approx((end - change.changed_at).total_seconds(), abs=0.01)
