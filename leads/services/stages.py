"""The one place a lead's stage changes."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from clientsflow.audit import audit_event
from clientsflow.cache import board_stages_bump
from clientsflow.errors import IllegalStageMove, InvalidInput, StageConflict
from clientsflow.prepared import insert_row, update_row
from leads.models import ALLOWED_MOVES, PIPELINE_ORDER, Lead, Stage, StageChange


def stage_label(value: str) -> str:
    return Stage(value).label if value in Stage.values else value


def check_stage_move(*, lead: Lead, to_stage: str, reason: str = "", undoing: bool = False) -> None:
    """Raise a domain error when `lead` may not move to `to_stage` (`undoing`: putting it back
    where it just was, which the forward rules need not allow, e.g. Contacted back to New)."""
    if to_stage not in Stage.values:
        raise InvalidInput(f"{to_stage!r} is not a stage.")
    if lead.merged_into_id:
        raise IllegalStageMove("This lead was merged into another; move that one instead.")
    if to_stage == lead.stage:
        raise IllegalStageMove(f"The lead is already in {stage_label(to_stage)}.")
    if not undoing and to_stage not in ALLOWED_MOVES[Stage(lead.stage)]:
        allowed = ", ".join(stage_label(s) for s in PIPELINE_ORDER if s in ALLOWED_MOVES[Stage(lead.stage)])
        raise IllegalStageMove(
            f"A lead cannot move from {stage_label(lead.stage)} to {stage_label(to_stage)}."
            + (f" From {stage_label(lead.stage)} it can go to: {allowed}." if allowed else " That stage is final.")
        )
    if to_stage == Stage.LOST and not reason.strip():
        raise InvalidInput("Say why the lead was lost: a reason is required.")


@transaction.atomic
def lead_move_stage(
    *,
    lead: Lead,
    to_stage: str,
    actor: Any = None,
    actor_label: str = "",
    reason: str = "",
    expected_stage: str | None = None,
    nurture_until: date | None = None,
    undoing: bool = False,
) -> StageChange:
    """Move a lead (by a person or an event), writing history and audit.

    `expected_stage` is the stage the caller saw; if the lead has moved since, the move is
    refused as a conflict instead of silently overwriting the newer change.
    """
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    if expected_stage is not None and locked.stage != expected_stage:
        raise StageConflict(
            f"This lead was moved to {stage_label(locked.stage)} in the meantime; reload to see the latest."
        )
    user = actor if getattr(actor, "is_authenticated", False) else None
    label = actor_label or (user.get_username() if user else "system")
    change = _move_locked(
        locked, to_stage=to_stage, user=user, label=label, reason=reason, nurture_until=nurture_until, undoing=undoing
    )
    for attr in ("stage", "stage_changed_at", "lost_reason", "nurture_until", "updated_at"):
        setattr(lead, attr, getattr(locked, attr))
    return change


def _move_locked(
    locked: Lead,
    *,
    to_stage: str,
    user: Any,
    label: str,
    reason: str,
    nurture_until: date | None = None,
    undoing: bool = False,
    first_move: bool = False,
    pending_rows: list[Any] | None = None,
) -> StageChange:
    """The move itself, for a lead whose row lock this transaction holds and whose fields were read
    under it. `first_move`: the lead was created in this transaction, so no earlier stay to close.
    The rows are written with SQL compiled once (`clientsflow.prepared`): a booking POST moves a lead.
    `pending_rows`: the audit row is appended there, for the caller to write before its commit."""
    check_stage_move(lead=locked, to_stage=to_stage, reason=reason, undoing=undoing)
    change = insert_row(
        StageChange(
            lead=locked,
            from_stage=locked.stage,
            to_stage=to_stage,
            changed_by=user,
            actor_label=label[:100],
            reason=reason[:255],
            from_nurture_until=locked.nurture_until if locked.stage == Stage.NURTURE else None,
        )
    )
    if not first_move:
        _stay_close(lead_id=locked.pk, next_change=change)
    locked.stage = to_stage
    locked.stage_changed_at = change.changed_at
    locked.lost_reason = reason[:255] if to_stage == Stage.LOST else ""
    locked.nurture_until = nurture_until if to_stage == Stage.NURTURE else None
    update_row(locked, fields=("stage", "stage_changed_at", "lost_reason", "nurture_until"))  # and updated_at
    audit = audit_event(
        verb="lead.stage_changed",
        obj=locked,
        actor=user,
        actor_label=label,
        details={"from": change.from_stage, "to": to_stage, "reason": reason[:255]},
    )
    if pending_rows is None:
        insert_row(audit)
    else:
        pending_rows.append(audit)
    board_stages_bump(change.from_stage, to_stage)
    return change


def _stay_close(*, lead_id: int, next_change: StageChange) -> None:
    """End the stay `next_change` ends: the lead's latest change before it gets `left_at` and
    `seconds_in_stage`. Call while holding the lead's row lock (moves of one lead are serialized,
    so "the latest before it" is the stay that was open)."""
    previous = (
        StageChange.objects.filter(lead_id=lead_id)
        .exclude(pk=next_change.pk)
        .order_by("-changed_at", "-id")
        .values_list("pk", "changed_at")
        .first()
    )
    if previous is None:
        return  # the lead's first move: its stay in New began when it arrived, not at a change
    pk, entered = previous
    StageChange.objects.filter(pk=pk).update(
        left_at=next_change.changed_at, seconds_in_stage=(next_change.changed_at - entered).total_seconds()
    )


# How long after a move the board offers "Undo" (its toast shows for 10 s; the rest is for a slow
# connection).
UNDO_WINDOW_SECONDS = 30


@transaction.atomic
def lead_move_undo(*, lead: Lead, change_id: int, actor: Any) -> StageChange:
    """Put a lead back where a move just took it: a move back through `lead_move_stage`, recorded
    in the history like any other (reason "Undo"), refused when the lead moved again since, when
    the move was not the lead's latest, or when it is older than `UNDO_WINDOW_SECONDS`. Back to
    Lost, the lead gets its lost reason again; back to Nurture, its snooze date."""
    Lead.objects.select_for_update().filter(pk=lead.pk).first()  # serialize with other moves
    change = StageChange.objects.filter(pk=change_id, lead_id=lead.pk).first()
    if change is None or not change.from_stage:
        raise InvalidInput("There is no move of this lead to undo; reload the board.")
    # Undo skips the usual one-step-back rule, so it is only for the person who just made the move:
    # not for a move a booking, reply or payment made, nor for a colleague's.
    if change.changed_by_id is None or getattr(actor, "pk", None) != change.changed_by_id:
        raise InvalidInput("You can only undo your own move; move the card back by hand if needed.")
    latest = StageChange.objects.filter(lead_id=lead.pk).order_by("-changed_at", "-id").first()
    if latest is None or latest.pk != change.pk:
        current = Lead.objects.values_list("stage", flat=True).get(pk=lead.pk)
        raise StageConflict(
            f"Not undone: this lead was moved again since (it is now in {stage_label(current)}); "
            "move it by hand if needed."
        )
    if (timezone.now() - change.changed_at).total_seconds() > UNDO_WINDOW_SECONDS:
        raise IllegalStageMove("Too late to undo this move; move the card back by hand.")
    reason = ""
    if change.from_stage == Stage.LOST:
        # Back to Lost: the reason it was lost before, as the stage needs one.
        previous = (
            StageChange.objects.filter(lead_id=lead.pk, to_stage=Stage.LOST, pk__lt=change.pk)
            .order_by("-changed_at", "-id")
            .values_list("reason", flat=True)
            .first()
        )
        reason = previous or "Undo"
    back = lead_move_stage(
        lead=lead,
        to_stage=change.from_stage,
        actor=actor,
        reason=reason or f"Undo: back from {stage_label(change.to_stage)}",
        expected_stage=change.to_stage,
        nurture_until=change.from_nurture_until,
        undoing=True,
    )
    return back


def lead_advance_stage(
    *,
    lead: Lead,
    to_stage: str,
    actor_label: str,
    reason: str = "",
    held: bool = False,
    created: bool = False,
    pending_rows: list[Any] | None = None,
) -> StageChange | None:
    """Move a lead forward because something happened (a reply, a booking, a payment).

    Events only ever move a lead forward along the pipeline: one arriving late for a lead that is
    already further along (or in the same stage) changes nothing and returns None.

    `held`: the caller's transaction holds the lead's row lock and read `lead` under it (as
    `lead_intake` leaves a lead it found), so its stage is current and is neither read again nor
    locked again. `created`: the lead was inserted in the caller's transaction (held too, and with
    no stage history yet). `pending_rows` (with `held`): the move's audit row is appended there
    instead of written, for the caller to write with its own rows before its commit.
    """
    pipeline = PIPELINE_ORDER[: PIPELINE_ORDER.index(Stage.PAID) + 1]
    held = held or created
    current = lead.stage if held else Lead.objects.values_list("stage", flat=True).get(pk=lead.pk)
    if current in pipeline and to_stage in pipeline and pipeline.index(current) >= pipeline.index(to_stage):
        return None
    if to_stage not in ALLOWED_MOVES[Stage(current)]:
        return None
    if held:
        return _move_locked(
            lead,
            to_stage=to_stage,
            user=None,
            label=actor_label,
            reason=reason,
            first_move=created,
            pending_rows=pending_rows,
        )
    return lead_move_stage(lead=lead, to_stage=to_stage, actor_label=actor_label, reason=reason, expected_stage=current)


def lead_mark_seen(*, lead: Lead) -> None:
    if lead.seen_at is None:
        Lead.objects.filter(pk=lead.pk, seen_at__isnull=True).update(seen_at=timezone.now())
        board_stages_bump(lead.stage)
