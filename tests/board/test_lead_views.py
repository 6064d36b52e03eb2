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


def test_a_new_task_is_offered_for_tomorrow_when_the_working_day_starts(
    owner_client, django_capture_on_commit_callbacks
):
    from datetime import time, timedelta
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from clientsflow.site import site_settings_update

    lead = LeadFactory()
    with django_capture_on_commit_callbacks(execute=True):
        site_settings_update(working_hours_start=time(7, 45))
    html = owner_client.get(f"/board/lead/{lead.public_id}/").content.decode()
    tomorrow = timezone.now().astimezone(ZoneInfo("America/New_York")).date() + timedelta(days=1)
    assert f'name="due_date" type="date" value="{tomorrow.isoformat()}"' in html
    assert 'name="due_time" type="time" value="07:45"' in html


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


# --- Inline edits and the value -------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed,currency,expected",
    [
        ("4,500", "USD", 450_000),
        ("4500.50", "usd", 450_050),
        ("$1,234,567.5", "", 123_456_750),
        ("4,500", "JPY", 4_500),
    ],
)
def test_parse_money_into_minor_units(typed, currency, expected):
    from board.lead_forms import parse_money

    assert parse_money(typed, currency or "USD") == expected


@pytest.mark.parametrize("typed", ["abc", "4.500,00", "1e5", "12,34", "-5", "4500.555", "NaN"])
def test_junk_amounts_are_refused_with_what_to_type(typed):
    from board.lead_forms import parse_money
    from clientsflow.errors import InvalidInput

    with pytest.raises(InvalidInput, match=r"amount|decimals"):
        parse_money(typed, "USD")


def test_edit_the_value_inline(owner_client):
    lead = LeadFactory()
    url = f"/board/lead/{lead.public_id}/edit/value/"
    editor = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'name="amount"' in editor and 'value="USD"' in editor and "Cancel" in editor
    response = owner_client.post(url, {"amount": "4,500", "currency": "usd"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert 'id="field-value"' in html and "$4,500.00" in html
    lead.refresh_from_db()
    assert (lead.value_minor, lead.value_currency) == (450_000, "USD") and "value" in lead.owner_edited_fields
    response = owner_client.post(url, {"amount": "lots", "currency": "USD"}, headers={"HX-Request": "true"})
    assert "is not an amount" in response.content.decode() and 'role="alert"' in response.content.decode()
    lead.refresh_from_db()
    assert lead.value_minor == 450_000
    cancel = owner_client.get(f"{url}?cancel=1", headers={"HX-Request": "true"}).content.decode()
    assert "$4,500.00" in cancel and "<form" not in cancel


def test_edit_contact_fields_inline_and_an_email_conflict_is_explained(owner_client):
    lead = LeadFactory(name="Jane Doe")
    other = LeadFactory(name="John Roe", email="john@example.com", email_normalized="john@example.com")
    response = owner_client.post(
        f"/board/lead/{lead.public_id}/edit/name/", {"name": "Jane  Q. Doe"}, headers={"HX-Request": "true"}
    )
    assert 'id="lead-title" hx-swap-oob="true">Jane Q. Doe<' in response.content.decode()
    lead.refresh_from_db()
    assert lead.name == "Jane Q. Doe" and "name" in lead.owner_edited_fields
    response = owner_client.post(
        f"/board/lead/{lead.public_id}/edit/email/", {"email": "JOHN@example.com"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert f"lead #{other.pk}" in html and "already has this email" in html
    lead.refresh_from_db()
    assert lead.email != "JOHN@example.com"


def test_inline_edit_without_javascript_is_a_small_page_and_a_redirect(owner_client):
    lead = LeadFactory()
    page = owner_client.get(f"/board/lead/{lead.public_id}/edit/company/").content.decode()
    assert "<h1>Edit company</h1>" in page and 'name="company"' in page
    response = owner_client.post(f"/board/lead/{lead.public_id}/edit/company/", {"company": "Acme"}, follow=True)
    assert response.redirect_chain[-1][0] == f"/board/lead/{lead.public_id}/" and "Acme" in response.content.decode()
    assert owner_client.get(f"/board/lead/{lead.public_id}/edit/stage/").status_code == 404


def test_a_viewer_cannot_edit_inline(viewer_client):
    lead = LeadFactory(company="Old")
    page = viewer_client.get(f"/board/lead/{lead.public_id}/").content.decode()
    assert "Edit company" not in page
    assert viewer_client.post(f"/board/lead/{lead.public_id}/edit/company/", {"company": "New"}).status_code == 403
    lead.refresh_from_db()
    assert lead.company == "Old"


# --- Adding a lead ----------------------------------------------------------------------------------


def _add(client, **fields):
    data = {"name": "", "company": "", "email": "", "phone": "", "amount": "", "currency": "", **fields}
    return client.post("/board/leads/new/", data)


def test_add_a_lead_with_a_value(owner_client):
    assert owner_client.get("/board/leads/new/").status_code == 200
    response = _add(owner_client, name="Ada Lovelace", company="Engines", email="ADA@example.com", amount="2,000")
    from leads.models import Lead

    lead = Lead.objects.get(email_normalized="ada@example.com")
    assert response.status_code == 302 and response["Location"] == f"/board/lead/{lead.public_id}/"
    assert (lead.value_minor, lead.value_currency, lead.source) == (200_000, "USD", "manual")
    assert LeadEvent.objects.filter(lead=lead, kind="created").exists()


def test_the_same_email_is_a_hard_duplicate_open_or_merge_only(owner_client):
    jane = LeadFactory(name="Jane Doe", company="Doe Dental", email="jane@example.com", phone="")
    response = _add(owner_client, name="J. Doe", email=" Jane@Example.com ", phone="+1 415 555 0134")
    html = response.content.decode()
    assert response.status_code == 200 and "This looks like Jane Doe" in html
    assert "Create anyway" not in html and f"merge:{jane.public_id}" in html
    response = _add(owner_client, name="J. Doe", email="jane@example.com", phone="+1 415 555 0134", decision="create")
    assert "Create anyway" not in response.content.decode()
    response = _add(
        owner_client,
        name="J. Doe",
        email="jane@example.com",
        phone="+1 415 555 0134",
        decision=f"merge:{jane.public_id}",
    )
    assert response.status_code == 302
    jane.refresh_from_db()
    assert jane.name == "Jane Doe" and jane.phone_e164 == "+14155550134"
    from leads.models import Lead

    assert Lead.objects.count() == 1


def test_a_similar_name_and_company_is_offered_then_create_anyway(owner_client):
    from leads.models import Lead

    jane = LeadFactory(name="Jane Doe", company="Doe Dental Care", email="jane@example.com")
    response = _add(owner_client, name="Jane  Doe", company="Doe Dental care", email="jane.doe@work.example")
    html = response.content.decode()
    assert "This looks like Jane Doe" in html and "Similar name and company" in html and "Create anyway" in html
    assert f"merge:{jane.public_id}" not in html  # another email: two people unless a person merges them
    assert Lead.objects.count() == 1
    response = _add(
        owner_client, name="Jane Doe", company="Doe Dental care", email="jane.doe@work.example", decision="create"
    )
    assert response.status_code == 302 and Lead.objects.count() == 2


def test_same_phone_other_email_is_offered(owner_client):
    LeadFactory(name="Sam Office", email="sam@example.com", phone="+1 415 555 0100", phone_e164="+14155550100")
    response = _add(owner_client, name="Pat", email="pat@example.com", phone="(415) 555-0100")
    assert "Same phone" in response.content.decode() and "Create anyway" in response.content.decode()


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"name": "Nobody"}, "email address or a phone number"),
        ({"email": "not-an-email"}, "not a valid email address"),
        ({"email": "a@example.com", "amount": "lots"}, "is not an amount"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(owner_client, fields, message):
    response = _add(owner_client, **fields)
    assert response.status_code == 400 and message in response.content.decode()


def test_a_viewer_cannot_add_leads(viewer_client):
    assert viewer_client.get("/board/leads/new/").status_code == 403
    assert _add(viewer_client, email="x@example.com").status_code == 403
