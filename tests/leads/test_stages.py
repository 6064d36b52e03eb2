"""The stage machine: one service, history + audit, illegal moves refused clearly."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

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
