"""Merging a duplicate lead into another, and undoing it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from bookings.models import Booking
from calls.models import Call
from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump
from clientsflow.errors import DomainError
from leads.models import ENRICHABLE_FIELDS, Lead, LeadEvent, LeadMerge, PossibleDuplicate, StageChange
from outreach.models import Enrollment, InboundReply, OutboundMessage

# Related rows that follow the duplicate into the survivor: (kind, model, lead field).
# Later apps add theirs here (bookings, calls, proposals...).
MOVABLE_RELATIONS: list[tuple[str, Any, str]] = [
    ("stage_changes", StageChange, "lead"),
    ("events", LeadEvent, "lead"),
    ("enrollments", Enrollment, "lead"),
    ("outbound_messages", OutboundMessage, "lead"),
    ("replies", InboundReply, "lead"),
    ("bookings", Booking, "lead"),
    ("calls", Call, "lead"),
]


@dataclass
class MergePlan:
    survivor: Lead
    duplicate: Lead
    field_changes: dict[str, dict[str, str]]
    moved_counts: dict[str, int]


def check_merge(*, survivor: Lead, duplicate: Lead) -> None:
    if survivor.pk == duplicate.pk:
        raise DomainError("Pick two different leads to merge.")
    if survivor.merged_into_id or duplicate.merged_into_id:
        raise DomainError("One of these leads was already merged; undo that merge first or pick its survivor.")


def merge_plan(*, survivor: Lead, duplicate: Lead) -> MergePlan:
    """What `lead_merge` would do, for the preview page. Writes nothing."""
    check_merge(survivor=survivor, duplicate=duplicate)
    changes: dict[str, dict[str, str]] = {}
    for name in ENRICHABLE_FIELDS:
        if not getattr(survivor, name) and getattr(duplicate, name):
            changes[name] = {"from": "", "to": getattr(duplicate, name)}
    counts = {kind: model.objects.filter(**{fk: duplicate}).count() for kind, model, fk in MOVABLE_RELATIONS}
    return MergePlan(survivor=survivor, duplicate=duplicate, field_changes=changes, moved_counts=counts)


@transaction.atomic
def lead_merge(*, survivor: Lead, duplicate: Lead, actor: Any = None) -> LeadMerge:
    """Fold `duplicate` into `survivor`: blank fields filled, history moved, duplicate retired.

    The duplicate is kept (marked `merged_into`) so its details still lead to the survivor and
    the merge can be undone.
    """
    survivor = Lead.objects.select_for_update().get(pk=survivor.pk)
    duplicate = Lead.objects.select_for_update().get(pk=duplicate.pk)
    plan = merge_plan(survivor=survivor, duplicate=duplicate)

    duplicate.merged_into = survivor
    duplicate.save(update_fields=["merged_into", "updated_at"])

    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, change in plan.field_changes.items():
        before[name] = getattr(survivor, name)
        setattr(survivor, name, change["to"])
        after[name] = change["to"]
        if name == "email":
            before["email_normalized"], after["email_normalized"] = (
                survivor.email_normalized,
                duplicate.email_normalized,
            )
            survivor.email_normalized = duplicate.email_normalized
        if name == "phone":
            before["phone_e164"], after["phone_e164"] = survivor.phone_e164, duplicate.phone_e164
            survivor.phone_e164 = duplicate.phone_e164
    if duplicate.external_ids:
        before["external_ids"] = survivor.external_ids
        survivor.external_ids = {**duplicate.external_ids, **survivor.external_ids}
        after["external_ids"] = survivor.external_ids
    survivor.save()

    moved: dict[str, list[int]] = {}
    for kind, model, fk in MOVABLE_RELATIONS:
        ids = list(model.objects.filter(**{fk: duplicate}).values_list("pk", flat=True))
        model.objects.filter(pk__in=ids).update(**{fk: survivor})
        moved[kind] = ids

    merge = LeadMerge.objects.create(
        survivor=survivor,
        duplicate=duplicate,
        merged_by=actor if getattr(actor, "is_authenticated", False) else None,
        survivor_before=before,
        survivor_after=after,
        moved=moved,
    )
    PossibleDuplicate.objects.filter(
        lead_a_id=min(survivor.pk, duplicate.pk),
        lead_b_id=max(survivor.pk, duplicate.pk),
        status=PossibleDuplicate.Status.OPEN,
    ).update(
        status=PossibleDuplicate.Status.MERGED, merge=merge, resolved_at=timezone.now(), resolved_by=merge.merged_by
    )
    LeadEvent.objects.create(
        lead=survivor,
        kind=LeadEvent.Kind.MERGED,
        summary=f"Merged with {duplicate}",
        data={"merge_id": merge.pk, "duplicate_id": duplicate.pk, "fields": sorted(after)},
    )
    audit_record(
        verb="lead.merged",
        obj=survivor,
        actor=actor,
        details={
            "merge_id": merge.pk,
            "duplicate_id": duplicate.pk,
            "fields": sorted(after),
            "moved": {k: len(v) for k, v in moved.items()},
        },
    )
    board_version_bump()
    return merge


@transaction.atomic
def lead_merge_undo(*, merge: LeadMerge, actor: Any = None) -> LeadMerge:
    """Give the duplicate back its rows and identity; restore the survivor's fields.

    A survivor field the owner changed after the merge keeps the owner's value.
    """
    merge = LeadMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        raise DomainError("This merge was already undone.")
    survivor = Lead.objects.select_for_update().get(pk=merge.survivor_id)
    duplicate = Lead.objects.select_for_update().get(pk=merge.duplicate_id)

    for name, merged_value in merge.survivor_after.items():
        if getattr(survivor, name) == merged_value:
            setattr(survivor, name, merge.survivor_before[name])
    survivor.save()
    duplicate.merged_into = None
    duplicate.save(update_fields=["merged_into", "updated_at"])

    for kind, model, fk in MOVABLE_RELATIONS:
        ids = merge.moved.get(kind, [])
        model.objects.filter(pk__in=ids, **{fk: survivor}).update(**{fk: duplicate})

    merge.undone_at = timezone.now()
    merge.undone_by = actor if getattr(actor, "is_authenticated", False) else None
    merge.save(update_fields=["undone_at", "undone_by"])
    # Undone, the two are a question for a person again.
    PossibleDuplicate.objects.filter(merge=merge, status=PossibleDuplicate.Status.MERGED).update(
        status=PossibleDuplicate.Status.OPEN, merge=None, resolved_at=None, resolved_by=None
    )
    LeadEvent.objects.create(
        lead=survivor,
        kind=LeadEvent.Kind.MERGE_UNDONE,
        summary=f"Merge with {duplicate} undone",
        data={"merge_id": merge.pk},
    )
    audit_record(
        verb="lead.merge_undone",
        obj=survivor,
        actor=actor,
        details={"merge_id": merge.pk, "duplicate_id": duplicate.pk},
    )
    board_version_bump()
    return merge
