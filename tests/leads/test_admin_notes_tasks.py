"""Notes and tasks in the admin: listed, filtered and searched across leads, each linked to its
lead; never added, edited or deleted there (that would bypass the timeline and the audit log);
ticking tasks done goes through the same service as the lead page."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from clientsflow.models import AuditEvent
from leads.models import LeadEvent, Note, Task
from leads.services.notes import note_add
from leads.services.tasks import task_add, task_complete
from tests.leads.factories import LeadFactory, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return staff_user("owner")


@pytest.fixture
def owner_client(owner):
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def viewer_client():
    client = Client()
    client.force_login(staff_user("viewer", role="Viewer"))
    return client


def test_notes_are_listed_searchable_and_link_to_their_lead(owner_client, owner):
    jane = LeadFactory(name="Jane Doe", company="Acme")
    bob = LeadFactory(name="Bob Stone")
    note_add(lead=jane, body="Called, try again **Thursday**", author=owner)
    note_add(lead=bob, body="Wants a quote for the shop", author=None)

    page = owner_client.get("/admin/leads/note/").content.decode()
    assert "Called, try again **Thursday**" in page and "Wants a quote for the shop" in page
    assert f'href="/admin/leads/lead/{jane.pk}/change/"' in page
    assert f'href="/board/lead/{jane.public_id}/"' in page
    assert "/admin/leads/note/add/" not in page

    by_text = owner_client.get("/admin/leads/note/?q=thursday").content.decode()
    assert "Jane Doe" in by_text and "Bob Stone" not in by_text
    by_lead = owner_client.get("/admin/leads/note/?q=stone").content.decode()
    assert "Wants a quote" in by_lead and "Thursday" not in by_lead
    by_author = owner_client.get(f"/admin/leads/note/?author__id__exact={owner.pk}").content.decode()
    assert "Thursday" in by_author and "Wants a quote" not in by_author


def test_a_note_is_read_only_in_the_admin_and_shown_sanitized(owner_client, owner):
    lead = LeadFactory(name="Jane Doe")
    note = note_add(lead=lead, body="<script>alert(1)</script> see **this**", author=owner)
    page = owner_client.get(f"/admin/leads/note/{note.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<strong>this</strong>" in html
    assert 'name="_save"' not in html  # view only
    assert owner_client.post(f"/admin/leads/note/{note.pk}/change/", {"body": "rewritten"}).status_code == 403
    assert owner_client.post(f"/admin/leads/note/{note.pk}/delete/", {"post": "yes"}).status_code == 403
    assert owner_client.get("/admin/leads/note/add/").status_code == 403
    assert Note.objects.get(pk=note.pk).body.startswith("<script>")


def test_tasks_filter_by_state(owner_client):
    lead = LeadFactory(name="Jane Doe")
    now = timezone.now()
    task_add(lead=lead, title="Overdue call", due_at=now - timedelta(hours=2))
    task_add(lead=lead, title="Next week", due_at=now + timedelta(days=7))
    done = task_add(lead=lead, title="Finished thing", due_at=now - timedelta(days=1))
    task_complete(task=done)

    def titles(query: str) -> set[str]:
        page = owner_client.get(f"/admin/leads/task/{query}").content.decode()
        return {t for t in ("Overdue call", "Next week", "Finished thing") if t in page}

    assert titles("") == {"Overdue call", "Next week", "Finished thing"}
    assert titles("?state=overdue") == {"Overdue call"}
    assert titles("?state=later") == {"Next week"}
    assert titles("?state=open") == {"Overdue call", "Next week"}
    assert titles("?state=done") == {"Finished thing"}
    assert titles("?q=week") == {"Next week"}
    page = owner_client.get("/admin/leads/task/").content.decode()
    assert f'href="/board/lead/{lead.public_id}/"' in page and "Overdue" in page
    assert "/admin/leads/task/add/" not in page


def test_due_today_ends_at_the_owners_midnight(owner_client, settings):
    settings.OWNER_TIMEZONE = "America/New_York"
    lead = LeadFactory()
    now = timezone.now()
    local = now.astimezone(ZoneInfo("America/New_York"))
    midnight = datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=ZoneInfo("America/New_York"))
    task_add(lead=lead, title="Before midnight", due_at=midnight - timedelta(seconds=1))
    task_add(lead=lead, title="At midnight", due_at=midnight.astimezone(UTC))
    page = owner_client.get("/admin/leads/task/?state=today").content.decode()
    assert "Before midnight" in page and "At midnight" not in page
    page = owner_client.get("/admin/leads/task/?state=later").content.decode()
    assert "At midnight" in page and "Before midnight" not in page


def test_tick_done_from_the_list_goes_through_the_service_timeline_and_audit(owner_client, owner):
    lead = LeadFactory()
    first = task_add(lead=lead, title="Send the quote", due_at=timezone.now() - timedelta(days=1))
    already = task_add(lead=lead, title="Already done", due_at=timezone.now() - timedelta(days=2))
    task_complete(task=already)
    done_at_before = Task.objects.get(pk=already.pk).done_at

    response = owner_client.post(
        "/admin/leads/task/",
        {"action": "mark_done", "_selected_action": [first.pk, already.pk]},
        follow=True,
    )
    assert "Ticked 1 task done (1 already done, left as they were)." in response.content.decode()
    first.refresh_from_db()
    assert first.done_at is not None and first.done_by == owner
    assert Task.objects.get(pk=already.pk).done_at == done_at_before
    assert LeadEvent.objects.filter(lead=lead, kind=LeadEvent.Kind.TASK_DONE, data__task_id=first.pk).count() == 1
    audit = AuditEvent.objects.filter(verb="lead.task_done", details__task_id=first.pk)
    assert audit.count() == 1 and audit.get().actor_user_id == owner.pk
    # a task's own page is view-only: nothing to edit, nothing to delete
    html = owner_client.get(f"/admin/leads/task/{first.pk}/change/").content.decode()
    assert 'name="_save"' not in html
    assert owner_client.post(f"/admin/leads/task/{first.pk}/delete/", {"post": "yes"}).status_code == 403
    assert owner_client.post(f"/admin/leads/task/{first.pk}/change/", {"title": "x"}).status_code == 403


def test_a_viewer_can_read_but_not_tick(viewer_client):
    lead = LeadFactory()
    task = task_add(lead=lead, title="Send the quote", due_at=timezone.now() - timedelta(days=1))
    note_add(lead=lead, body="A note")
    assert viewer_client.get("/admin/leads/note/").status_code == 200
    page = viewer_client.get("/admin/leads/task/")
    assert page.status_code == 200 and "Send the quote" in page.content.decode()
    assert "mark_done" not in page.content.decode()
    viewer_client.post("/admin/leads/task/", {"action": "mark_done", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.done_at is None


def test_audit_log_names_note_and_task_events_in_plain_words(owner_client, owner):
    lead = LeadFactory()
    note_add(lead=lead, body="A note", author=owner)
    task_complete(task=task_add(lead=lead, title="T", due_at=timezone.now(), created_by=owner), actor=owner)
    page = owner_client.get("/admin/clientsflow/auditevent/").content.decode()
    assert "Note added" in page and "Task added" in page and "Task ticked done" in page
