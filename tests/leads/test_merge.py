"""lead_merge + undo, and the admin preview that leads to it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection, models
from django.utils import timezone

from bookings.models import Booking
from clientsflow.errors import DomainError
from clientsflow.models import AuditEvent
from leads.models import Lead, LeadEvent, LeadMerge, Stage, StageChange
from leads.services.intake import LeadData, lead_intake
from leads.services.merge import NOT_MOVED, lead_merge, lead_merge_undo, lead_relations, merge_plan
from leads.services.stages import lead_move_stage
from leads.services.timeline import timeline_record
from outreach.models import InboundReply
from tests.leads.factories import LeadFactory

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


# --- Relations found from the model metadata -----------------------------------------------------


def _rows_by_relation(lead: Lead) -> dict[str, set]:
    return {r.key: set(r.rows_of(lead).values_list("pk", flat=True)) for r in lead_relations()}


def _give_history(lead: Lead, *, code: str) -> None:
    """A row in every app that points at a lead: booking, call, proposal, payment, outreach."""
    from billing.models import Payment
    from tests.billing.conftest import make_proposal
    from tests.bookings.factories import BookingFactory
    from tests.calls.factories import CallFactory
    from tests.outreach.outbound_support import make_draft, make_enrollment

    BookingFactory(lead=lead, start_at=timezone.now() + timedelta(days=2))
    CallFactory(lead=lead, match_method="email", match_confidence=1.0)
    proposal = make_proposal(lead=lead)
    Payment.objects.create(
        proposal=proposal, lead=lead, checkout_session_id=f"cs_{code}", amount_minor=100, currency="USD"
    )
    make_draft(lead=lead)
    make_enrollment(lead=lead)
    InboundReply.objects.create(
        lead=lead, source="manual", from_email=lead.email, from_email_normalized=lead.email, received_at=timezone.now()
    )
    timeline_record(lead=lead, kind=LeadEvent.Kind.NOTE, summary=f"Note {code}")


def test_merge_moves_every_related_row_and_undo_gives_back_exactly_those(pair):
    survivor, duplicate = pair
    _give_history(survivor, code="s")
    _give_history(duplicate, code="d")
    survivor_rows, duplicate_rows = _rows_by_relation(survivor), _rows_by_relation(duplicate)
    moved_apps = {key.split(".")[0] for key, pks in duplicate_rows.items() if pks}
    assert {"bookings", "calls", "billing", "leads"} <= moved_apps

    merge = lead_merge(survivor=survivor, duplicate=duplicate)

    after = _rows_by_relation(survivor)
    for key in survivor_rows:
        assert after[key] >= survivor_rows[key] | duplicate_rows[key], key
        assert not _rows_by_relation(duplicate)[key], key
    assert {key: set(pks) for key, pks in merge.moved.items()} == {k: v for k, v in duplicate_rows.items() if v}
    added_after_merge = timeline_record(lead=survivor, kind=LeadEvent.Kind.NOTE, summary="Called them back")

    lead_merge_undo(merge=merge)

    assert _rows_by_relation(duplicate) == duplicate_rows
    back_on_survivor = _rows_by_relation(survivor)
    for key, pks in survivor_rows.items():
        assert pks <= back_on_survivor[key]
        assert not (back_on_survivor[key] & duplicate_rows[key])
    assert LeadEvent.objects.get(pk=added_after_merge.pk).lead_id == survivor.pk


def test_every_model_pointing_at_a_lead_is_moved_by_a_merge_unless_documented_otherwise():
    # Found independently of the merge code: every forward key to Lead in every installed app.
    pointing_at_lead = {
        (model._meta.label_lower, field.name)
        for model in apps.get_models(include_auto_created=True)
        for field in model._meta.get_fields()
        if field.concrete and (field.many_to_one or field.one_to_one) and field.related_model is Lead
    }

    moved = {(r.model._meta.label_lower, r.field_name) for r in lead_relations()}

    assert moved == pointing_at_lead - NOT_MOVED
    assert pointing_at_lead >= NOT_MOVED  # an exception that no longer exists is a stale one


def test_undo_works_for_merges_recorded_by_accessor_name_before_relations_came_from_metadata(pair):
    survivor, duplicate = pair
    from tests.bookings.factories import BookingFactory

    booking = BookingFactory(lead=duplicate, start_at=timezone.now() + timedelta(days=2))
    merge = lead_merge(survivor=survivor, duplicate=duplicate)
    change = StageChange.objects.get(lead=survivor)
    LeadMerge.objects.filter(pk=merge.pk).update(
        moved={"bookings": [booking.pk], "stage_changes": [change.pk], "proposals": []}
    )
    merge.refresh_from_db()

    lead_merge_undo(merge=merge)

    assert Booking.objects.get(pk=booking.pk).lead_id == duplicate.pk
    assert StageChange.objects.get(pk=change.pk).lead_id == duplicate.pk


# --- A relation that allows one row per lead ------------------------------------------------------


@pytest.fixture
def one_per_lead_models():
    """Two models another app might add: a one-to-one to a lead (hidden: `related_name="+"`),
    and rows unique per (lead, code). Registered like any app's model, their tables made for the
    test and removed after it."""

    class Profile(models.Model):
        lead = models.OneToOneField(Lead, on_delete=models.CASCADE, related_name="+")

        class Meta:
            app_label = "leads"

        def __str__(self) -> str:
            return f"profile of {self.lead_id}"

    class Coupon(models.Model):
        lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
        code = models.CharField(max_length=20)

        class Meta:
            app_label = "leads"
            constraints = [models.UniqueConstraint(fields=["lead", "code"], name="test_coupon_unique_per_lead")]

        def __str__(self) -> str:
            return self.code

    with connection.schema_editor() as editor:
        editor.create_model(Profile)
        editor.create_model(Coupon)
    try:
        yield Profile, Coupon
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(Coupon)
            editor.delete_model(Profile)
        for model in (Profile, Coupon):
            del apps.all_models["leads"][model._meta.model_name]
        apps.clear_cache()


@pytest.mark.django_db(transaction=True)
def test_a_merge_that_would_break_one_per_lead_is_refused_and_changes_nothing(one_per_lead_models):
    Profile, Coupon = one_per_lead_models
    survivor, duplicate = LeadFactory(), LeadFactory()
    Profile.objects.create(lead=survivor)
    theirs = Profile.objects.create(lead=duplicate)

    with pytest.raises(DomainError, match="Both leads have profiles, and a lead may have only one"):
        merge_plan(survivor=survivor, duplicate=duplicate)
    with pytest.raises(DomainError, match="profiles"):
        lead_merge(survivor=survivor, duplicate=duplicate)

    assert Profile.objects.get(pk=theirs.pk).lead_id == duplicate.pk
    assert Lead.objects.get(pk=duplicate.pk).merged_into_id is None
    assert not LeadMerge.objects.exists()

    Coupon.objects.create(lead=survivor, code="WELCOME")
    Coupon.objects.create(lead=duplicate, code="WELCOME")
    theirs.delete()
    with pytest.raises(DomainError, match="coupons with the same code"):
        lead_merge(survivor=survivor, duplicate=duplicate)


@pytest.mark.django_db(transaction=True)
def test_rows_unique_per_lead_move_when_they_do_not_clash_and_come_back_on_undo(one_per_lead_models):
    Profile, Coupon = one_per_lead_models
    survivor, duplicate = LeadFactory(), LeadFactory()
    profile = Profile.objects.create(lead=duplicate)
    Coupon.objects.create(lead=survivor, code="WELCOME")
    coupon = Coupon.objects.create(lead=duplicate, code="SPRING")

    merge = lead_merge(survivor=survivor, duplicate=duplicate)

    assert Profile.objects.get(pk=profile.pk).lead_id == survivor.pk
    assert Coupon.objects.get(pk=coupon.pk).lead_id == survivor.pk
    lead_merge_undo(merge=merge)
    assert Profile.objects.get(pk=profile.pk).lead_id == duplicate.pk
    assert Coupon.objects.get(pk=coupon.pk).lead_id == duplicate.pk
