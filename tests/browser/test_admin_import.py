"""Importing a semicolon CSV from the admin in Debian's chromium, at 390 px and on a desktop:
upload, see the detected delimiter, change a column's field, preview, import, and watch the
progress bar (polled by htmx) reach done; axe clean and no console errors on every step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from leads.models import Lead, LeadImport
from leads.services.lead_imports import lead_import_run
from tests.browser.conftest import VIEWPORTS, axe_violations, logged_in_page, save_screenshot, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = (
    "Name;E-mail;Téléphone;Source\n"
    "Zoë Weber;zoë@exämple.de;+49 30 1234567;Trade show (Berlin)!\n"
    "Nobody;;;\n"
    "Ann Lee;ann@x.example;+1 415 555 0100;\n"
)


def _no_horizontal_scroll(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_import_a_semicolon_csv_with_a_changed_mapping_and_watch_it_finish(
    new_page, owner, live_server, viewport, tmp_path, monkeypatch
):
    # The run is queued, not run in the request, so the page can be seen waiting and then
    # following the run that this test starts, as a worker would.
    queued: list[int] = []
    monkeypatch.setattr("leads.services.lead_imports.lead_import_run_task.delay_on_commit", queued.append)
    csv_path = Path(tmp_path) / "leads.csv"
    csv_path.write_text(CSV, encoding="utf-8")
    page = logged_in_page(new_page, owner, live_server, viewport=VIEWPORTS[viewport])

    page.goto("/admin/leads/lead/")
    page.click("text=Import CSV")
    page.wait_for_selector("input[type=file]")
    assert axe_violations(page) == []
    page.set_input_files("input[type=file]", str(csv_path))
    page.click("input[value='Upload and choose the columns']")

    page.wait_for_selector("[data-testid=delimiter]")
    assert page.inner_text("[data-testid=delimiter]") == "semicolon"
    counts = page.inner_text("[data-testid=preview-counts]")
    assert "New leads: 2" in counts and "Rows that cannot be imported: 1" in counts
    phone_select = page.get_by_label("Téléphone")
    assert phone_select.input_value() == ""  # not a known column name: ignored until chosen
    phone_select.select_option("phone")
    page.click("button[value=preview]")
    page.wait_for_selector("[data-testid=preview-rows]")
    assert page.get_by_label("Téléphone").input_value() == "phone"
    rows = page.inner_text("[data-testid=preview-rows]")
    assert "+49 30 1234567" in rows and "New lead" in rows and "Not imported" in rows
    assert not Lead.objects.exists()  # a dry run
    assert axe_violations(page) == []
    assert _no_horizontal_scroll(page)
    save_screenshot(page, f"admin-import-mapping-{viewport}", full_page=True)

    page.click("button[value=import]")
    page.wait_for_selector("#import-progress[data-status=queued]")
    assert axe_violations(page) == []
    lead_import = LeadImport.objects.get()
    assert queued == [lead_import.pk]
    save_screenshot(page, f"admin-import-waiting-{viewport}", full_page=True)

    lead_import_run(lead_import_id=lead_import.pk)  # the worker's part

    wait_until(page, "document.querySelector('#import-progress').dataset.status === 'done'", timeout=15)
    bar = page.locator("#import-bar")
    assert bar.get_attribute("value") == bar.get_attribute("max") == "3"
    assert "3 of 3 rows (100%)" in page.inner_text("[data-testid=progress-numbers]")
    assert "New leads: 2" in page.inner_text("[data-testid=result-counts]")
    assert Lead.objects.get(email_normalized="zoë@exämple.de").phone_e164 == "+49301234567"
    assert Lead.objects.get(email_normalized="zoë@exämple.de").source == "trade-show-berlin"
    assert axe_violations(page) == []
    assert _no_horizontal_scroll(page)
    save_screenshot(page, f"admin-import-done-{viewport}", full_page=True)
    page.click("[data-testid=to-leads]")
    page.wait_for_selector("text=Zoë Weber")

    page.goto("/admin/leads/leadimport/")  # the runs, read-only
    page.wait_for_selector("#result_list")
    assert "leads.csv" in page.inner_text("#result_list") and "3 of 3" in page.inner_text("#result_list")
    assert axe_violations(page) == []
    page.click("#result_list tbody a >> nth=0")
    page.wait_for_selector("text=Téléphone")  # the header row, as uploaded
    assert page.locator("#content-main input[type=text]").count() == 0
    assert axe_violations(page) == []
    save_screenshot(page, f"admin-import-runs-{viewport}", full_page=True)


def test_the_progress_page_follows_the_run_without_javascript(new_page, owner, live_server, monkeypatch):
    monkeypatch.setattr("leads.services.lead_imports.lead_import_run_task.delay_on_commit", lambda pk: None)
    lead_import = LeadImport.objects.create(
        file_name="leads.csv", content=b"Email\na@x.example\n", mapping=["email"], status=LeadImport.Status.QUEUED
    )
    LeadImport.objects.filter(pk=lead_import.pk).update(total_rows=1)
    page = logged_in_page(new_page, owner, live_server, java_script_enabled=False)

    page.goto(f"/admin/leads/lead/import-csv/{lead_import.pk}/progress/")
    assert page.get_attribute("#import-progress", "data-status") == "queued"
    lead_import_run(lead_import_id=lead_import.pk)

    # The <noscript> refresh reloads the page by itself.
    page.wait_for_selector("#import-progress[data-status=done]", timeout=10_000)
    assert "New leads: 1" in page.inner_text("[data-testid=result-counts]")
