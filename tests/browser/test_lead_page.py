"""The lead page in Debian's chromium: notes and tasks (HTMX, and plain forms without
JavaScript), at desktop and phone width, accessible and with no console errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Lead, LeadEvent, Note, Stage, Task
from leads.services.tasks import owner_zone
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    axe_violations,
    csp_violations,
    logged_in_page,
    record_csp_violations,
    save_screenshot,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def jane(owner) -> Lead:
    return Lead.objects.create(
        name="Jane Doe",
        company="Doe Dental",
        email="jane@example.com",
        email_normalized="jane@example.com",
        stage=Stage.REPLIED,
        seen_at=timezone.now(),
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_add_a_note_and_a_task_then_tick_it_done(new_page, owner, live_server, jane, viewport):
    page = logged_in_page(new_page, owner, live_server, viewport=viewport)
    record_csp_violations(page)
    page.goto(f"/board/lead/{jane.public_id}/")
    url = page.url

    page.fill("#note-body", "Called, **try again Thursday**.\n- wants a quote\n<script>alert(1)</script>")
    page.click("#notes button[type=submit]")
    page.wait_for_selector("#notes .note strong")
    assert page.locator("#notes .note strong").inner_text() == "try again Thursday"
    assert "<script>alert(1)</script>" in page.locator("#notes .note-body").inner_text()
    assert page.locator("#timeline .kind-note").count() == 1  # the timeline was swapped too
    assert page.locator("#note-body").input_value() == ""

    today = timezone.now().astimezone(owner_zone())
    later = today + timedelta(minutes=30)
    page.fill("#task-title", "Send the quote")
    page.fill("#task-date", later.date().isoformat())
    page.fill("#task-time", f"{later:%H:%M}")
    page.click("#tasks .task-form button[type=submit]")
    page.wait_for_selector("#tasks .task .task-title")
    assert page.locator("#tasks .task .task-title").first.inner_text() == "Send the quote"
    task = Task.objects.get(lead=jane)
    assert task.due_at.astimezone(owner_zone()).strftime("%H:%M") == f"{later:%H:%M}"
    assert page.locator("#timeline .kind-task_added").count() == 1

    page.locator(f"#task-{task.pk} button.tick").click()
    page.wait_for_selector("#tasks .tasks-done")
    task.refresh_from_db()
    assert task.done_at is not None
    assert page.locator("#tasks").get_by_text("No open tasks.").is_visible()
    assert page.url == url  # no page load: HTMX swapped the panels
    assert LeadEvent.objects.filter(lead=jane, kind__in=["note", "task_added", "task_done"]).count() == 3

    # Checked before any screenshot: Playwright's screenshot injects a caret-hiding <style>.
    assert csp_violations(page) == [], "\n".join(csp_violations(page))
    assert axe_violations(page, serious_only=True) == []
    save_screenshot(page, f"lead-notes-tasks-{viewport['width']}")


def test_notes_and_tasks_work_without_javascript(new_page, owner, live_server, jane):
    page = logged_in_page(new_page, owner, live_server, java_script_enabled=False)
    page.goto(f"/board/lead/{jane.public_id}/")
    page.fill("#note-body", "No script here")
    page.click("#notes button[type=submit]")
    page.wait_for_selector(".flash-item")
    assert "Note saved." in page.locator(".flash-item").inner_text()
    assert Note.objects.get(lead=jane).body == "No script here"
    page.fill("#task-title", "Call back")
    page.click("#tasks .task-form button[type=submit]")  # the form comes with tomorrow 09:00
    page.wait_for_selector(f"#task-{Task.objects.get(lead=jane).pk}")
    page.locator("#tasks button.tick").click()
    page.wait_for_selector("#tasks .tasks-done")
    assert Task.objects.get(lead=jane).done_at is not None


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_edit_the_value_and_name_inline_enter_saves_escape_cancels(new_page, owner, live_server, jane, viewport):
    page = logged_in_page(new_page, owner, live_server, viewport=viewport)
    record_csp_violations(page)
    page.goto(f"/board/lead/{jane.public_id}/")
    url = page.url

    page.locator("#field-value .edit-link").click()
    page.wait_for_selector("#edit-value")
    page.fill("#edit-value", "junk")
    page.press("#edit-value", "Enter")
    page.wait_for_selector("#field-value .field-error")
    assert "is not an amount" in page.locator("#field-value .field-error").inner_text()
    page.fill("#edit-value", "4,500")
    page.press("#edit-value", "Enter")
    page.wait_for_selector("#field-value .edit-link")
    assert page.locator("#field-value .field-value").inner_text() == "$4,500.00"
    jane.refresh_from_db()
    assert (jane.value_minor, jane.value_currency) == (450_000, "USD")

    page.locator("#field-name .edit-link").click()
    page.wait_for_selector("#edit-name")
    page.fill("#edit-name", "Not saved")
    page.press("#edit-name", "Escape")
    page.wait_for_selector("#field-name .edit-link")
    assert page.locator("#field-name .field-value").inner_text() == "Jane Doe"
    page.locator("#field-name .edit-link").click()
    page.fill("#edit-name", "Jane Q. Doe")
    page.press("#edit-name", "Enter")
    page.wait_for_selector("#field-name .edit-link")
    assert page.locator("#lead-title").inner_text() == "Jane Q. Doe"
    assert page.url == url
    assert csp_violations(page) == [], "\n".join(csp_violations(page))
    page.locator("#field-email .edit-link").click()  # axe checks the open editor too
    page.wait_for_selector("#edit-email")
    assert axe_violations(page, serious_only=True) == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_add_a_lead_and_see_the_duplicate_offer(new_page, owner, live_server, jane, viewport):
    page = logged_in_page(new_page, owner, live_server, viewport=viewport)
    record_csp_violations(page)
    page.goto("/board/leads/new/")
    page.fill("#id_name", "Jane Doe")
    page.fill("#id_company", "Doe Dental")
    page.fill("#id_email", "jane.doe@work.example")
    page.fill("#id_amount", "4,500")
    page.click("#new-lead-form button[type=submit]:not([name])")
    page.wait_for_selector(".duplicate-offer")
    assert "This looks like Jane Doe" in page.locator(".duplicate-offer h2").inner_text()
    assert Lead.objects.count() == 1
    assert csp_violations(page) == [], "\n".join(csp_violations(page))
    assert axe_violations(page, serious_only=True) == []
    save_screenshot(page, f"lead-new-duplicate-{viewport['width']}")
    page.get_by_role("button", name="Create anyway").click()
    page.wait_for_selector("#lead-title")
    created = Lead.objects.get(email_normalized="jane.doe@work.example")
    assert page.url.endswith(f"/board/lead/{created.public_id}/") and created.value_minor == 450_000
