"""Tasks: due in the owner's zone (DST included), done and reopened, overdue and due today, and
"going cold" in one query."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clientsflow.errors import DomainError, InvalidInput
from clientsflow.models import AuditEvent
from clientsflow.site import site_settings, site_settings_update
from leads.models import Lead, LeadEvent, Stage, Task
from leads.next_steps import (
    going_cold_count,
    going_cold_leads,
    next_step_badges,
    owner_day_end,
    tasks_due,
    tasks_due_count,
)
from leads.services.notes import note_add
from leads.services.tasks import owner_wall_time_to_utc, task_add, task_complete, task_reopen
from tests.leads.factories import LeadFactory, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _new_york(settings):
    settings.OWNER_TIMEZONE = "America/New_York"


# --- The owner's wall clock -> UTC ----------------------------------------------------------------


def test_due_time_is_read_in_the_owners_zone_winter_and_summer():
    assert owner_wall_time_to_utc(day=date(2026, 1, 15), at=time(9, 0)) == datetime(2026, 1, 15, 14, 0, tzinfo=UTC)
    assert owner_wall_time_to_utc(day=date(2026, 7, 15), at=time(9, 0)) == datetime(2026, 7, 15, 13, 0, tzinfo=UTC)


def test_the_day_clocks_go_forward_refuses_the_skipped_hour_and_keeps_the_rest():
    # 8 Mar 2026: 02:00 EST jumps to 03:00 EDT in New York.
    with pytest.raises(InvalidInput, match="does not exist"):
        owner_wall_time_to_utc(day=date(2026, 3, 8), at=time(2, 30))
    assert owner_wall_time_to_utc(day=date(2026, 3, 8), at=time(1, 59)) == datetime(2026, 3, 8, 6, 59, tzinfo=UTC)
    assert owner_wall_time_to_utc(day=date(2026, 3, 8), at=time(3, 0)) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_the_repeated_hour_when_clocks_go_back_means_the_first_one():
    # 1 Nov 2026: 01:30 happens twice in New York, first in EDT (UTC-4).
    assert owner_wall_time_to_utc(day=date(2026, 11, 1), at=time(1, 30)) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_another_zone(settings):
    settings.OWNER_TIMEZONE = "Europe/Berlin"
    assert owner_wall_time_to_utc(day=date(2026, 3, 29), at=time(9, 0)) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    with pytest.raises(InvalidInput):
        owner_wall_time_to_utc(day=date(2026, 3, 29), at=time(2, 15))


def test_the_owners_day_ends_at_their_midnight_even_on_a_25_hour_day():
    noon = datetime(2026, 11, 1, 17, 0, tzinfo=UTC)  # 12:00 EST on the day clocks went back
    assert owner_day_end(noon) == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)
    late = datetime(2026, 7, 16, 3, 30, tzinfo=UTC)  # 23:30 EDT on 15 July: still the 15th
    assert owner_day_end(late) == datetime(2026, 7, 16, 4, 0, tzinfo=UTC)


# --- Adding, ticking, reopening -------------------------------------------------------------------


def test_task_add_stores_utc_records_the_timeline_and_the_audit_log():
    owner = staff_user()
    lead = LeadFactory()
    due = owner_wall_time_to_utc(day=date(2026, 12, 3), at=time(16, 0))
    task = task_add(lead=lead, title="  Call   back ", due_at=due, created_by=owner)
    task.refresh_from_db()
    assert task.title == "Call back" and task.due_at == datetime(2026, 12, 3, 21, 0, tzinfo=UTC)
    assert task.created_by == owner and task.done_at is None
    event = LeadEvent.objects.get(lead=lead, kind=LeadEvent.Kind.TASK_ADDED)
    assert "Thu 03 Dec, 16:00 EST" in event.summary
    assert AuditEvent.objects.filter(verb="lead.task_added", actor_user=owner).count() == 1


def test_a_task_needs_a_title_and_an_aware_due_time():
    lead = LeadFactory()
    with pytest.raises(InvalidInput):
        task_add(lead=lead, title="   ", due_at=timezone.now())
    with pytest.raises(ValueError):
        task_add(lead=lead, title="Call", due_at=datetime(2026, 12, 3, 9, 0))  # noqa: DTZ001
    assert not Task.objects.exists()


def test_tick_done_then_reopen_each_once():
    owner = staff_user()
    task = task_add(lead=LeadFactory(), title="Send the quote", due_at=timezone.now())
    task_complete(task=task, actor=owner)
    task.refresh_from_db()
    assert task.done_at is not None and task.done_by == owner
    with pytest.raises(DomainError, match="already done"):
        task_complete(task=task, actor=owner)
    task_reopen(task=task, actor=owner)
    task.refresh_from_db()
    assert task.done_at is None and task.done_by is None
    with pytest.raises(DomainError, match="still open"):
        task_reopen(task=task, actor=owner)
    kinds = list(LeadEvent.objects.filter(lead=task.lead).order_by("id").values_list("kind", flat=True))
    assert kinds == ["task_added", "task_done", "task_reopened"]
    verbs = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {"lead.task_added", "lead.task_done", "lead.task_reopened"} <= verbs


# --- Overdue and due today ------------------------------------------------------------------------


def test_overdue_and_due_today_boundaries_follow_the_owners_midnight():
    now = datetime(2026, 7, 15, 20, 0, tzinfo=UTC)  # 16:00 EDT
    lead = LeadFactory()
    overdue = task_add(lead=lead, title="overdue", due_at=now - timedelta(seconds=1))
    at_now = task_add(lead=lead, title="at now", due_at=now)
    last_minute = task_add(lead=lead, title="23:59 EDT", due_at=datetime(2026, 7, 16, 3, 59, tzinfo=UTC))
    task_add(lead=lead, title="midnight EDT", due_at=datetime(2026, 7, 16, 4, 0, tzinfo=UTC))
    done = task_add(lead=lead, title="done", due_at=now - timedelta(days=2))
    task_complete(task=done)
    merged = LeadFactory(merged_into=lead)
    Task.objects.create(lead=merged, title="on a merged lead", due_at=now - timedelta(days=1))

    assert [t.pk for t in tasks_due(now=now)] == [overdue.pk, at_now.pk, last_minute.pk]
    assert tasks_due_count(now=now) == 3
    assert [t.pk for t in tasks_due(now=now, overdue_only=True)] == [overdue.pk]

    other = LeadFactory()
    task_add(lead=other, title="today", due_at=now + timedelta(hours=1))
    quiet = LeadFactory()
    badges = next_step_badges([lead.pk, other.pk, quiet.pk], now=now)
    assert [b.label for b in badges[lead.pk]] == ["Task overdue"]
    assert [b.label for b in badges[other.pk]] == ["Task due today"]
    assert quiet.pk not in badges


# --- Going cold -----------------------------------------------------------------------------------


def _aged(stage: str, days: float, **fields) -> Lead:
    lead = LeadFactory(stage=stage, **fields)
    Lead.objects.filter(pk=lead.pk).update(created_at=timezone.now() - timedelta(days=days))
    LeadEvent.objects.filter(lead=lead).update(at=timezone.now() - timedelta(days=days))
    return lead


def test_going_cold_flags_untouched_active_leads_only(django_capture_on_commit_callbacks):
    site_settings_update(going_cold_days=7)
    cold = _aged(Stage.CONTACTED, 10)
    cold_signed = _aged(Stage.SIGNED, 30)
    young = _aged(Stage.NEW, 3)
    for stage in (Stage.PAID, Stage.LOST, Stage.NURTURE):
        _aged(stage, 30)
    with_task = _aged(Stage.REPLIED, 20)
    task_add(lead=with_task, title="Follow up", due_at=timezone.now() + timedelta(days=30))
    with_done_task = _aged(Stage.REPLIED, 20)
    old_task = Task.objects.create(lead=with_done_task, title="old", due_at=timezone.now() - timedelta(days=15))
    Task.objects.filter(pk=old_task.pk).update(done_at=timezone.now() - timedelta(days=15))
    with_note = _aged(Stage.BOOKED, 20)
    note_add(lead=with_note, body="Spoke today")
    moved = _aged(Stage.CALL_DONE, 20)
    Lead.objects.filter(pk=moved.pk).update(stage_changed_at=timezone.now() - timedelta(days=1))
    old_event = _aged(Stage.PROPOSAL_SENT, 20)
    LeadEvent.objects.create(lead=old_event, kind="x", summary="long ago", at=timezone.now() - timedelta(days=9))
    _aged(Stage.NEW, 30, merged_into=cold)

    site_settings()  # read once per process and cached: not part of the selector's cost
    with CaptureQueriesContext(connection) as queries:
        found = {lead.pk for lead in going_cold_leads()}
    assert len(queries) == 1
    assert found == {cold.pk, cold_signed.pk, with_done_task.pk, old_event.pk}
    assert young.pk not in found and going_cold_count() == 4
    # Counted up to a limit: the same figure below it, the limit itself at or beyond it.
    assert [going_cold_count(limit=n) for n in (5, 4, 3, 1)] == [4, 4, 3, 1]

    with django_capture_on_commit_callbacks(execute=True):
        site_settings_update(going_cold_days=40)
    assert going_cold_count() == 0


def test_card_badges_for_a_page_of_cards_take_one_query():
    site_settings_update(going_cold_days=7)
    leads = [_aged(Stage.CONTACTED, 10) for _ in range(5)]
    task_add(lead=leads[0], title="late", due_at=timezone.now() - timedelta(hours=1))
    ids = [lead.pk for lead in leads]
    site_settings()  # read once per process and cached: not part of the selector's cost
    with CaptureQueriesContext(connection) as queries:
        badges = next_step_badges(ids)
    assert len(queries) == 1
    assert [b.label for b in badges[leads[0].pk]] == ["Task overdue"]
    assert all([b.label for b in badges[pk]] == ["Going cold"] for pk in ids[1:])
