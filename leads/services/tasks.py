"""Tasks (next steps) on a lead: due at an instant the owner picks in their own time zone.

`due_at` is stored in UTC. The owner types a date and a time on their wall clock
(`OWNER_TIMEZONE`); `owner_wall_time_to_utc` turns that into the instant, refusing a time the
clocks skip when summer time starts and taking the first of the two when it ends.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clientsflow.audit import audit_record
from clientsflow.errors import DomainError, InvalidInput
from leads.models import Lead, LeadEvent, Task
from leads.services.board_cache import board_cards_changed
from leads.services.timeline import timeline_record

TITLE_MAX_LENGTH = Task._meta.get_field("title").max_length or 200


def owner_zone() -> ZoneInfo:
    return ZoneInfo(settings.OWNER_TIMEZONE)


def owner_wall_time_to_utc(*, day: date, at: time) -> datetime:
    """The UTC instant of `day` `at` on the owner's wall clock.

    A wall time that does not exist (inside the hour skipped when summer time starts) is refused;
    one that happens twice (the hour repeated when it ends) means the first, still-summer one.
    """
    zone = owner_zone()
    local = datetime.combine(day, at.replace(tzinfo=None, fold=0)).replace(tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise InvalidInput(
            f"{at:%H:%M} does not exist on {day:%d %b %Y} in {zone.key}: the clocks jump forward that night. "
            "Pick a time an hour later."
        )
    return instant


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


@transaction.atomic
def task_add(*, lead: Lead, title: str, due_at: datetime, created_by: Any = None) -> Task:
    """Add an open task to `lead`, due at the aware instant `due_at`."""
    text = " ".join((title or "").split())
    if not text:
        raise InvalidInput("Say what the task is, e.g. 'Call back about the quote'.")
    if len(text) > TITLE_MAX_LENGTH:
        raise InvalidInput(f"A task's title holds at most {TITLE_MAX_LENGTH} characters; put the rest in a note.")
    if timezone.is_naive(due_at):
        raise ValueError("due_at must be an aware datetime; convert the owner's wall time first")
    if lead.merged_into_id:
        raise DomainError("This lead was merged into another; add the task there.")
    task = Task.objects.create(lead=lead, title=text, due_at=due_at.astimezone(UTC), created_by=_user(created_by))
    local = task.due_at.astimezone(owner_zone())
    timeline_record(
        lead=lead,
        kind=LeadEvent.Kind.TASK_ADDED,
        summary=f"{text} (due {local:%a %d %b, %H:%M %Z})",
        data={"task_id": task.pk, "due_at": task.due_at.isoformat()},
    )
    audit_record(
        verb="lead.task_added",
        obj=lead,
        actor=created_by,
        details={"task_id": task.pk, "due_at": task.due_at.isoformat()},
    )
    board_cards_changed(lead.pk)
    return task


@transaction.atomic
def task_complete(*, task: Task, actor: Any = None) -> Task:
    """Tick a task done. Refuses one that is already done (someone else may have ticked it)."""
    locked = Task.objects.select_for_update().select_related("lead").get(pk=task.pk)
    if locked.done_at is not None:
        raise DomainError("This task was already done; reload the page to see who ticked it.")
    locked.done_at = timezone.now()
    locked.done_by = _user(actor)
    locked.save(update_fields=["done_at", "done_by"])
    timeline_record(lead=locked.lead, kind=LeadEvent.Kind.TASK_DONE, summary=locked.title, data={"task_id": locked.pk})
    audit_record(verb="lead.task_done", obj=locked.lead, actor=actor, details={"task_id": locked.pk})
    board_cards_changed(locked.lead_id)
    task.done_at, task.done_by = locked.done_at, locked.done_by
    return locked


@transaction.atomic
def task_reopen(*, task: Task, actor: Any = None) -> Task:
    """Untick a done task (ticked by mistake). Refuses one that is still open."""
    locked = Task.objects.select_for_update().select_related("lead").get(pk=task.pk)
    if locked.done_at is None:
        raise DomainError("This task is still open; nothing to reopen.")
    locked.done_at = None
    locked.done_by = None
    locked.save(update_fields=["done_at", "done_by"])
    timeline_record(
        lead=locked.lead, kind=LeadEvent.Kind.TASK_REOPENED, summary=locked.title, data={"task_id": locked.pk}
    )
    audit_record(verb="lead.task_reopened", obj=locked.lead, actor=actor, details={"task_id": locked.pk})
    board_cards_changed(locked.lead_id)
    task.done_at, task.done_by = None, None
    return locked
