"""Reads of notes, tasks and "going cold" leads: the lead page, the card badges, "needs you".

Due and overdue are judged on the owner's calendar (`OWNER_TIMEZONE`): "due today" runs to the
owner's midnight, not UTC's. Each read is one query whatever the number of leads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.utils import timezone

from clientsflow.compiled import compiled_select
from clientsflow.site import site_settings
from leads.cards import Badge
from leads.models import Lead, LeadEvent, Note, Stage, Task
from leads.services.tasks import owner_zone

# Stages in which a lead is being worked: the ones that go cold when nobody touches them.
ACTIVE_STAGES: tuple[str, ...] = (
    Stage.NEW,
    Stage.CONTACTED,
    Stage.REPLIED,
    Stage.BOOKED,
    Stage.CALL_DONE,
    Stage.PROPOSAL_SENT,
    Stage.SIGNED,
)
LEAD_PAGE_DONE_TASKS = 20


def owner_day_end(now: datetime) -> datetime:
    """The instant the owner's current day ends (their next midnight), DST-aware."""
    zone = owner_zone()
    local_now = now.astimezone(zone)
    tomorrow = datetime.combine(local_now.date() + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return tomorrow.astimezone(now.tzinfo or zone)


# --- The lead page -------------------------------------------------------------------------------


def lead_notes(lead: Lead) -> QuerySet[Note]:
    return Note.objects.filter(lead=lead).select_related("author").order_by("-created_at", "-id")


@dataclass
class LeadTasks:
    open: list[Task]
    done: list[Task]


def lead_tasks(lead: Lead) -> LeadTasks:
    """Open tasks soonest first, then the most recently done (one query)."""
    tasks = list(
        Task.objects.filter(lead=lead)
        .select_related("done_by")
        .filter(
            Q(done_at__isnull=True)
            | Q(
                pk__in=Task.objects.filter(lead=lead, done_at__isnull=False)
                .order_by("-done_at", "-id")
                .values("pk")[:LEAD_PAGE_DONE_TASKS]
            )
        )
        .order_by("due_at", "id")
    )
    done = sorted((t for t in tasks if t.done_at is not None), key=lambda t: t.done_at or t.due_at, reverse=True)
    return LeadTasks(open=[t for t in tasks if t.done_at is None], done=done)


# --- Tasks due ----------------------------------------------------------------------------------


def tasks_due(*, now: datetime | None = None, overdue_only: bool = False) -> QuerySet[Task]:
    """Open tasks on leads that were not merged away, oldest first: those already past their due
    time and, unless `overdue_only`, those due later today (before the owner's midnight)."""
    now = now or timezone.now()
    until = now if overdue_only else owner_day_end(now)
    return (
        Task.objects.filter(done_at__isnull=True, due_at__lt=until, lead__merged_into__isnull=True)
        .select_related("lead")
        .order_by("due_at", "id")
    )


def tasks_due_count(*, now: datetime | None = None) -> int:
    return tasks_due(now=now).count()


# --- Going cold ---------------------------------------------------------------------------------


def going_cold_q(*, now: datetime, days: int) -> Q:
    """An active lead nobody has touched for `days`: no open task, no timeline event and no stage
    change since the cutoff, and older than it. Correlated EXISTS, so it filters in one query."""
    cutoff = now - timedelta(days=days)
    open_task = Task.objects.filter(lead=OuterRef("pk"), done_at__isnull=True)
    recent_event = LeadEvent.objects.filter(lead=OuterRef("pk"), at__gte=cutoff)
    return (
        Q(stage__in=ACTIVE_STAGES, merged_into__isnull=True, created_at__lt=cutoff)
        & (Q(stage_changed_at__isnull=True) | Q(stage_changed_at__lt=cutoff))
        & ~Exists(open_task)
        & ~Exists(recent_event)
    )


def going_cold_leads(*, now: datetime | None = None, days: int | None = None) -> QuerySet[Lead]:
    """Leads going cold (see `going_cold_q`), longest untouched first; `days` defaults to the setting."""
    now = now or timezone.now()
    days = site_settings().going_cold_days if days is None else days
    return Lead.objects.filter(going_cold_q(now=now, days=days)).order_by("created_at", "id")


def going_cold_count(*, now: datetime | None = None, days: int | None = None, limit: int | None = None) -> int:
    """How many leads are going cold; with `limit`, counted only up to it (a count that stops once
    it has that many, instead of reading every old active lead: on a large table, most of them)."""
    leads = going_cold_leads(now=now, days=days)
    return leads.order_by()[:limit].count() if limit is not None else leads.count()


# --- Card badges --------------------------------------------------------------------------------


def next_step_badges(lead_ids: list[int], *, now: datetime | None = None) -> dict[int, list[Badge]]:
    """ "Overdue" / "Due today" / "Going cold" for a page of cards, in one query."""
    if not lead_ids:
        return {}
    now = now or timezone.now()
    days = site_settings().going_cold_days

    def build(values: dict[str, Any]) -> QuerySet[Any, Any]:
        open_tasks = Task.objects.filter(lead=OuterRef("pk"), done_at__isnull=True)
        return (
            Lead.objects.filter(pk__in=values["ids"])
            .annotate(
                overdue=Exists(open_tasks.filter(due_at__lt=values["now"])),
                due_today=Exists(open_tasks.filter(due_at__gte=values["now"], due_at__lt=values["day_end"])),
                cold=ExpressionWrapper(going_cold_q(now=values["now"], days=days), output_field=BooleanField()),
            )
            .order_by()
            .values_list("pk", "overdue", "due_today", "cold")
        )

    # Built and compiled once per number of cards (a render after a move asks about one or two).
    rows = compiled_select(
        ("next_step_badges", len(lead_ids)),
        build,
        {"ids": list(lead_ids), "now": now},
        derived={
            "day_end": lambda values: owner_day_end(values["now"]),
            "cutoff": lambda values: values["now"] - timedelta(days=days),
        },
    )
    result: dict[int, list[Badge]] = {}
    for lead_id, overdue, due_today, cold in rows:
        badges = []
        if overdue:
            badges.append(Badge("Task overdue", "danger", "A task on this lead is past its due time."))
        elif due_today:
            badges.append(Badge("Task due today", "warn", "A task on this lead is due before midnight."))
        if cold:
            badges.append(Badge("Going cold", "warn", f"No open task and nothing has happened for {days} days."))
        if badges:
            result[lead_id] = badges
    return result
