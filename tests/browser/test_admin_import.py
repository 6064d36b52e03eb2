"""Importing a semicolon CSV from the admin in Debian's chromium, at 390 px and on a desktop:
upload, see the detected delimiter and the dry-run counts, import, see the result; axe clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from leads.models import Lead
from tests.browser.conftest import VIEWPORTS, axe_violations, logged_in_page, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = "Name;Email;Phone;Source\nZoë Weber;zoë@exämple.de;+49 30 1234567;Trade show (Berlin)!\nNobody;;;\n"


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_import_a_semicolon_csv_from_the_admin(new_page, owner, live_server, viewport, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    csv_path = Path(tmp_path) / "leads.csv"
    csv_path.write_text(CSV, encoding="utf-8")
    page = logged_in_page(new_page, owner, live_server, viewport=VIEWPORTS[viewport])

    page.goto("/admin/leads/lead/")
    page.click("text=Import CSV")
    page.wait_for_selector("input[type=file]")
    assert axe_violations(page) == []
    page.set_input_files("input[type=file]", str(csv_path))
    page.click("input[value='Preview the import']")
    page.wait_for_selector("[data-testid=delimiter]")
    assert page.inner_text("[data-testid=delimiter]") == "semicolon"
    counts = page.inner_text("[data-testid=preview-counts]")
    assert "New leads: 1" in counts and "Rows that cannot be imported: 1" in counts
    assert not Lead.objects.exists()  # a dry run
    assert axe_violations(page) == []
    save_screenshot(page, f"admin-import-preview-{viewport}", full_page=True)

    page.click("input[value='Import']")
    page.wait_for_selector("[data-testid=result-counts]")
    assert "New leads: 1" in page.inner_text("[data-testid=result-counts]")
    assert Lead.objects.get().source == "trade-show-berlin"
    assert axe_violations(page) == []
    save_screenshot(page, f"admin-import-result-{viewport}", full_page=True)
