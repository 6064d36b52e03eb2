"""Merging a duplicate lead into another, and undoing it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import ForeignObject, ForeignObjectRel, Model, Q, QuerySet, UniqueConstraint
from django.utils import timezone

from clientsflow.audit import audit_record
from clientsflow.cache import board_stages_bump, board_version_bump
from clientsflow.errors import DomainError
from leads.models import ENRICHABLE_FIELDS, Lead, LeadEvent, LeadMerge, PossibleDuplicate
from leads.services.timeline import timeline_record

# Relations to a lead that a merge leaves where they are: the merge records themselves (moving
# them would make a merge point from the survivor to itself and break its undo), and the
# `merged_into` of leads merged into the duplicate earlier (those merges are undone on the
# duplicate, which stays their survivor). Everything else moves, leads' own stage changes and
# timeline events included: the duplicate was the same person, so its history is the
# survivor's too, and an undo gives back exactly the rows that moved. A possible-duplicate pair
# names the two leads themselves: the merge resolves it rather than moving it.
NOT_MOVED: frozenset[tuple[str, str]] = frozenset(
    {
        ("leads.leadmerge", "survivor"),
        ("leads.leadmerge", "duplicate"),
        ("leads.lead", "merged_into"),
        ("leads.possibleduplicate", "lead_a"),
        ("leads.possibleduplicate", "lead_b"),
    }
)


@dataclass(frozen=True)
class LeadRelation:
    """A foreign key (or one-to-one) from some model to `Lead`."""

    model: type[Model]
    field_name: str

    @property
    def key(self) -> str:
        """How `LeadMerge.moved` names the relation: `app_label.model.field`."""
        return f"{self.model._meta.label_lower}.{self.field_name}"

    @property
    def label(self) -> str:
        name = str(self.model._meta.verbose_name_plural)
        return name if self.field_name == "lead" else f"{name} ({self.field_name.replace('_', ' ')})"

    def rows_of(self, lead: Lead) -> QuerySet[Any]:
        return self.model._default_manager.filter(**{self.field_name: lead})


def lead_relations() -> list[LeadRelation]:
    """Every relation from any installed app to `Lead` that a merge moves, read from the model
    metadata (hidden ones, such as `related_name="+"` or a many-to-many's through table, included)."""
    relations = []
    for rel in Lead._meta.get_fields(include_hidden=True):
        if not isinstance(rel, ForeignObjectRel) or not (
            rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)
        ):
            continue
        relation = LeadRelation(model=rel.field.model, field_name=rel.field.name)
        if (relation.model._meta.label_lower, relation.field_name) not in NOT_MOVED:
            relations.append(relation)
    return sorted(relations, key=lambda relation: relation.key)


def _unique_rules(relation: LeadRelation) -> list[tuple[list[str], Q | None]]:
    """The uniqueness rules that include the lead field, each as (its other fields, its condition)."""
    opts = relation.model._meta
    field = opts.get_field(relation.field_name)
    assert isinstance(field, ForeignObject)  # lead_relations yields only foreign keys to Lead
    lead_names = {field.name, field.attname}
    rules: list[tuple[list[str], Q | None]] = [([], None)] if field.unique else []
    for together in opts.unique_together:
        if lead_names & set(together):
            rules.append(([name for name in together if name not in lead_names], None))
    for constraint in opts.constraints:
        if isinstance(constraint, UniqueConstraint) and lead_names & set(constraint.fields):
            others = [name for name in constraint.fields if name not in lead_names]
            rules.append((others, constraint.condition))
    return rules


def check_no_unique_clash(*, relation: LeadRelation, survivor: Lead, duplicate: Lead) -> None:
    """Refuse a merge that would give the survivor two rows where only one per lead may exist
    (a one-to-one, or a unique constraint that includes the lead), instead of failing in the
    database halfway through."""
    for others, condition in _unique_rules(relation):
        mine, theirs = relation.rows_of(survivor), relation.rows_of(duplicate)
        if condition is not None:
            mine, theirs = mine.filter(condition), theirs.filter(condition)
        if not others:
            clash = theirs.exists() and mine.exists()
        else:
            # NULLs never clash in a unique index, so rows with one are left out.
            clash = any(
                mine.filter(**values).exists()
                for values in theirs.values(*others)
                if all(value is not None for value in values.values())
            )
        if clash:
            same = f" with the same {', '.join(others)}" if others else ""
            raise DomainError(
                f"Both leads have {relation.label}{same}, and a lead may have only one. "
                "Remove or reassign one of them, then merge again."
            )


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
    for relation in lead_relations():
        check_no_unique_clash(relation=relation, survivor=survivor, duplicate=duplicate)


def merge_plan(*, survivor: Lead, duplicate: Lead) -> MergePlan:
    """What `lead_merge` would do, for the preview page. Writes nothing."""
    check_merge(survivor=survivor, duplicate=duplicate)
    changes: dict[str, dict[str, str]] = {}
    for name in ENRICHABLE_FIELDS:
        if not getattr(survivor, name) and getattr(duplicate, name):
            changes[name] = {"from": "", "to": getattr(duplicate, name)}
    counts = {relation.label: relation.rows_of(duplicate).count() for relation in lead_relations()}
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

    moved: dict[str, list[Any]] = {}
    for relation in lead_relations():
        pks = list(relation.rows_of(duplicate).values_list("pk", flat=True))
        if pks:
            relation.model._default_manager.filter(pk__in=pks).update(**{relation.field_name: survivor})
            moved[relation.key] = [pk if isinstance(pk, int) else str(pk) for pk in pks]

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
    timeline_record(
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
    board_stages_bump(survivor.stage, duplicate.stage)
    # Other apps' rows (tasks, bookings, payments) changed lead: the cards' badges follow.
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

    by_key: dict[str, LeadRelation] = {}
    for relation in lead_relations():
        by_key[relation.key] = relation
        # Merges recorded before relations were read from the metadata named them by accessor.
        by_key.setdefault(_accessor_name(relation), relation)
    for key, pks in merge.moved.items():
        if not pks:
            continue
        moved = by_key.get(key)
        if moved is None:
            raise DomainError(f"This merge moved rows of {key}, which no longer exists, so it cannot be undone.")
        moved.model._default_manager.filter(pk__in=pks, **{moved.field_name: survivor}).update(
            **{moved.field_name: duplicate}
        )

    merge.undone_at = timezone.now()
    merge.undone_by = actor if getattr(actor, "is_authenticated", False) else None
    merge.save(update_fields=["undone_at", "undone_by"])
    # Undone, the two are a question for a person again.
    PossibleDuplicate.objects.filter(merge=merge, status=PossibleDuplicate.Status.MERGED).update(
        status=PossibleDuplicate.Status.OPEN, merge=None, resolved_at=None, resolved_by=None
    )
    timeline_record(
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
    board_stages_bump(survivor.stage, duplicate.stage)
    # Other apps' rows (tasks, bookings, payments) changed lead: the cards' badges follow.
    board_version_bump()
    return merge


def _accessor_name(relation: LeadRelation) -> str:
    field = relation.model._meta.get_field(relation.field_name)
    assert isinstance(field, ForeignObject)  # lead_relations yields only foreign keys to Lead
    return field.remote_field.get_accessor_name() or relation.key
