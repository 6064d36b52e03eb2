"""Possible duplicates: merged from the lead page or the admin with the undoable merge,
dismissed for good, counted under "Needs you"."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from board.selectors import needs_you
from leads.models import Lead, LeadMerge, PossibleDuplicate
from leads.services.dedup import possible_duplicate_merge
from leads.services.intake import LeadData, lead_intake
from leads.services.merge import lead_merge_undo
from leads.services.owner_edits import lead_update_by_owner
from tests.leads.factories import staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair() -> PossibleDuplicate:
    lead_intake(data=LeadData.build(name="Jane", email="jane@acme.example", phone="+14155550134"), source="website")
    lead_intake(data=LeadData.build(name="Carol", email="carol@co.example", phone="415 555 0134"), source="website")
    return PossibleDuplicate.objects.get()


def _needs_you(key: str) -> int:
    return next(item.count for item in needs_you() if item.key == key)


def test_open_pairs_are_counted_under_needs_you(pair):
    assert _needs_you("possible_duplicates") == 1


def test_merging_from_the_lead_page_keeps_that_lead_and_undo_reopens_the_pair(client, pair):
    client.force_login(staff_user())
    jane, carol = pair.lead_a, pair.lead_b

    response = client.post(f"/board/lead/{carol.public_id}/duplicates/{pair.pk}/merge/", follow=True)

    assert "Merged Jane into Carol" in response.content.decode()
    jane.refresh_from_db()
    assert jane.merged_into_id == carol.pk
    pair.refresh_from_db()
    assert pair.status == PossibleDuplicate.Status.MERGED and pair.merge is not None
    assert _needs_you("possible_duplicates") == 0

    lead_merge_undo(merge=pair.merge, actor=None)

    pair.refresh_from_db()
    assert pair.status == PossibleDuplicate.Status.OPEN
    assert Lead.objects.filter(merged_into__isnull=True).count() == 2


def test_a_dismissed_pair_is_not_suggested_again(client, pair):
    client.force_login(staff_user())
    client.post(f"/board/lead/{pair.lead_a.public_id}/duplicates/{pair.pk}/dismiss/")

    lead_intake(data=LeadData.build(name="Carol", email="carol@co.example", phone="415 555 0134"), source="csv")

    pair.refresh_from_db()
    assert pair.status == PossibleDuplicate.Status.DISMISSED
    assert PossibleDuplicate.objects.count() == 1
    assert _needs_you("possible_duplicates") == 0


def test_a_settled_pair_cannot_be_merged_again(pair):
    possible_duplicate_merge(pair=pair, survivor=pair.lead_a, actor=None)

    with pytest.raises(Exception, match="already settled"):
        possible_duplicate_merge(pair=pair, survivor=pair.lead_a, actor=None)
    assert LeadMerge.objects.count() == 1


def test_admin_lists_pairs_and_merges_into_the_older_lead(client, pair):
    client.force_login(staff_user(role="Assistant"))

    listing = client.get("/admin/leads/possibleduplicate/?status__exact=open")
    assert listing.status_code == 200 and "Carol" in listing.content.decode()
    client.post("/admin/leads/possibleduplicate/", {"action": "merge_into_older", ACTION_CHECKBOX_NAME: [pair.pk]})

    pair.refresh_from_db()
    assert pair.status == PossibleDuplicate.Status.MERGED
    assert pair.merge.survivor_id == pair.lead_a_id


def test_admin_dismiss_action(client, pair):
    client.force_login(staff_user())
    client.post("/admin/leads/possibleduplicate/", {"action": "dismiss", ACTION_CHECKBOX_NAME: [pair.pk]})

    pair.refresh_from_db()
    assert pair.status == PossibleDuplicate.Status.DISMISSED


def test_a_viewer_cannot_use_the_admin_actions(client, pair):
    client.force_login(staff_user(role="Viewer"))
    client.post("/admin/leads/possibleduplicate/", {"action": "dismiss", ACTION_CHECKBOX_NAME: [pair.pk]})

    pair.refresh_from_db()
    assert pair.status == PossibleDuplicate.Status.OPEN


def test_a_staff_edit_giving_a_lead_anothers_phone_records_a_possible_duplicate(admin_user):
    jane = lead_intake(data=LeadData.build(email="jane@acme.example", phone="+14155550134"), source="website").lead
    carol = lead_intake(data=LeadData.build(email="carol@co.example"), source="website").lead

    lead_update_by_owner(lead=carol, changes={"phone": "(415) 555-0134"}, actor=admin_user)

    pair = PossibleDuplicate.objects.get()
    assert {pair.lead_a_id, pair.lead_b_id} == {jane.pk, carol.pk}
