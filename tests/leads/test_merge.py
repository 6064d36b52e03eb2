"""lead_merge + undo, and the admin preview that leads to it."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from clientsflow.errors import DomainError
from clientsflow.models import AuditEvent
from leads.models import Lead, LeadMerge, Stage, StageChange
from leads.services.intake import LeadData, lead_intake
from leads.services.merge import lead_merge, lead_merge_undo
from leads.services.stages import lead_move_stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair():
    survivor = lead_intake(data=LeadData.build(name="Robin Hale", email="robin@hale.example"), source="website").lead
    duplicate = lead_intake(
        data=LeadData.build(
            email="r.hale@gmail.example", phone="+1 415 555 0199", company="Hale Design", external_id="g-1"
        ),
        source="ghl",
    ).lead
    lead_move_stage(lead=duplicate, to_stage=Stage.CONTACTED)
    return survivor, duplicate


def test_merge_fills_blanks_moves_history_and_retires_the_duplicate(pair, admin_user):
    survivor, duplicate = pair

    merge = lead_merge(survivor=survivor, duplicate=duplicate, actor=admin_user)

    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert survivor.email == "robin@hale.example"  # its own details stay
    assert (survivor.phone_e164, survivor.company) == ("+14155550199", "Hale Design")
    assert survivor.external_ids == {"ghl": "g-1"}
    assert duplicate.merged_into == survivor
    assert StageChange.objects.filter(lead=survivor).count() == 1
    assert merge.merged_by == admin_user
    assert AuditEvent.objects.filter(verb="lead.merged", object_id=str(survivor.pk)).exists()


def test_after_a_merge_the_duplicates_details_find_the_survivor(pair):
    survivor, duplicate = pair
    lead_merge(survivor=survivor, duplicate=duplicate)

    again = lead_intake(data=LeadData.build(email="R.Hale@gmail.example"), source="csv")

    assert not again.created
    assert again.lead.pk == survivor.pk


def test_undo_restores_both_leads(pair, admin_user):
    survivor, duplicate = pair
    merge = lead_merge(survivor=survivor, duplicate=duplicate, actor=admin_user)

    lead_merge_undo(merge=merge, actor=admin_user)

    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert (survivor.phone, survivor.phone_e164, survivor.company) == ("", "", "")
    assert survivor.external_ids == {}
    assert duplicate.merged_into is None
    assert StageChange.objects.filter(lead=duplicate).count() == 1
    assert StageChange.objects.filter(lead=survivor).count() == 0
    assert AuditEvent.objects.filter(verb="lead.merge_undone").exists()
    with pytest.raises(DomainError, match="already undone"):
        lead_merge_undo(merge=merge)


def test_undo_keeps_what_the_owner_changed_after_the_merge(pair):
    survivor, duplicate = pair
    merge = lead_merge(survivor=survivor, duplicate=duplicate)
    Lead.objects.filter(pk=survivor.pk).update(company="Hale Design Studio")

    lead_merge_undo(merge=merge)

    survivor.refresh_from_db()
    assert survivor.company == "Hale Design Studio"


def test_merging_a_lead_with_itself_or_twice_is_refused(pair):
    survivor, duplicate = pair
    with pytest.raises(DomainError):
        lead_merge(survivor=survivor, duplicate=survivor)
    lead_merge(survivor=survivor, duplicate=duplicate)
    with pytest.raises(DomainError, match="already merged"):
        lead_merge(survivor=survivor, duplicate=duplicate)


def test_admin_merge_shows_a_preview_then_merges_on_confirm(pair, admin_client):
    survivor, duplicate = pair
    selection = {"action": "merge_selected", ACTION_CHECKBOX_NAME: [survivor.pk, duplicate.pk]}

    preview = admin_client.post("/admin/leads/lead/", selection)

    assert preview.status_code == 200
    assert b"Merge two leads" in preview.content
    assert b"Hale Design" in preview.content
    assert not LeadMerge.objects.exists()

    done = admin_client.post(
        "/admin/leads/lead/", {**selection, "confirm": "yes", "survivor": survivor.pk}, follow=True
    )

    assert done.status_code == 200
    merge = LeadMerge.objects.get()
    assert (merge.survivor, merge.duplicate) == (survivor, duplicate)

    undo = admin_client.post(
        "/admin/leads/leadmerge/", {"action": "undo", ACTION_CHECKBOX_NAME: [merge.pk]}, follow=True
    )
    assert b"undone" in undo.content
    merge.refresh_from_db()
    assert merge.undone_at is not None
