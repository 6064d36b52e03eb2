"""The lead page's notes and tasks (HTMX and plain forms), and who may use them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from leads.models import LeadEvent, Note, Task
from leads.services.tasks import task_add
from tests.leads.factories import LeadFactory, staff_user

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "notes"}


@pytest.fixture(autouse=True)
def _new_york(settings):
    settings.OWNER_TIMEZONE = "America/New_York"


@pytest.fixture
def owner_client(client):
    client.force_login(staff_user("owner"))
    return client


@pytest.fixture
def viewer_client():
    client = Client()
    client.force_login(staff_user("viewer", role="Viewer"))
    return client


def test_add_a_note_with_htmx_returns_the_notes_panel_and_the_timeline(owner_client):
    lead = LeadFactory()
    response = owner_client.post(
        f"/board/lead/{lead.public_id}/notes/", {"body": "Called, **try Thursday** <script>x</script>"}, headers=HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="notes"' in html and "<strong>try Thursday</strong>" in html and "&lt;script&gt;" in html
    assert 'id="timeline" aria-labelledby="timeline-title" hx-swap-oob="true"' in html
    assert "<script>x" not in html
    assert Note.objects.filter(lead=lead).count() == 1


def test_an_empty_note_is_refused_in_the_panel(owner_client):
    lead = LeadFactory()
    response = owner_client.post(f"/board/lead/{lead.public_id}/notes/", {"body": "  "}, headers=HTMX)
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode() and "write something" in response.content.decode()
    assert not Note.objects.exists()


def test_without_javascript_a_note_redirects_back_with_a_message(owner_client):
    lead = LeadFactory()
    response = owner_client.post(f"/board/lead/{lead.public_id}/notes/", {"body": "Plain form"}, follow=True)
    assert response.redirect_chain[-1][0] == f"/board/lead/{lead.public_id}/#notes"
    assert "Note saved." in response.content.decode() and "Plain form" in response.content.decode()


def test_add_a_task_in_the_owners_zone_and_tick_it_done(owner_client):
    lead = LeadFactory()
    response = owner_client.post(
        f"/board/lead/{lead.public_id}/tasks/",
        {"title": "Send the quote", "due_date": "2026-12-03", "due_time": "16:00"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    task = Task.objects.get(lead=lead)
    assert task.due_at == datetime(2026, 12, 3, 21, 0, tzinfo=UTC)
    assert "Thu 3 Dec 2026, 16:00 EST" in response.content.decode()
    response = owner_client.post(f"/board/lead/{lead.public_id}/tasks/{task.pk}/done/", headers={"HX-Request": "true"})
    task.refresh_from_db()
    assert task.done_at is not None and "Done (1)" in response.content.decode()
    owner_client.post(f"/board/lead/{lead.public_id}/tasks/{task.pk}/reopen/")
    task.refresh_from_db()
    assert task.done_at is None


def test_a_skipped_wall_time_is_refused_with_what_to_do(owner_client):
    lead = LeadFactory()
    response = owner_client.post(
        f"/board/lead/{lead.public_id}/tasks/",
        {"title": "Call", "due_date": "2026-03-08", "due_time": "02:30"},
        headers={"HX-Request": "true"},
    )
    assert "does not exist" in response.content.decode() and "an hour later" in response.content.decode()
    assert not Task.objects.exists()


def test_a_task_of_another_lead_is_not_found(owner_client):
    task = task_add(lead=LeadFactory(), title="Theirs", due_at=datetime(2026, 1, 1, tzinfo=UTC))
    other = LeadFactory()
    assert owner_client.post(f"/board/lead/{other.public_id}/tasks/{task.pk}/done/").status_code == 404


def test_a_viewer_sees_notes_and_tasks_but_cannot_change_them(viewer_client):
    lead = LeadFactory()
    Note.objects.create(lead=lead, body="Seen by all staff")
    task = task_add(lead=lead, title="Visible task", due_at=datetime(2026, 1, 1, tzinfo=UTC))
    page = viewer_client.get(f"/board/lead/{lead.public_id}/").content.decode()
    assert "Seen by all staff" in page and "Visible task" in page
    assert "Add a note" not in page and "Mark done" not in page
    assert viewer_client.post(f"/board/lead/{lead.public_id}/notes/", {"body": "x"}).status_code == 403
    assert viewer_client.post(f"/board/lead/{lead.public_id}/tasks/{task.pk}/done/").status_code == 403
    assert Note.objects.count() == 1 and Task.objects.get().done_at is None
    assert viewer_client.get("/board/next-steps/").status_code == 200


def test_anonymous_is_sent_to_log_in(client):
    lead = LeadFactory()
    response = client.post(f"/board/lead/{lead.public_id}/notes/", {"body": "x"})
    assert response.status_code == 302 and "/login" in response["Location"]


def test_next_steps_page_lists_due_tasks_and_cold_leads(owner_client):
    lead = LeadFactory(name="Overdue Olga")
    task_add(lead=lead, title="Ring Olga", due_at=datetime(2020, 1, 1, tzinfo=UTC))
    html = owner_client.get("/board/next-steps/").content.decode()
    assert "Ring Olga" in html and "Overdue" in html
    needs = owner_client.get("/board/needs-you/").content.decode()
    assert "Tasks overdue or due today" in needs and "/board/next-steps/#due" in needs
    assert LeadEvent.objects.filter(kind="task_added").count() == 1
