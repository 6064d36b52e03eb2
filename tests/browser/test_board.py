"""The owner's board in Debian's chromium: log in, move cards (menu and drag), roll back refused
moves, the sticky stage bar, phone width, accessibility, and the board without JavaScript."""

from __future__ import annotations

import pytest

from leads.models import Lead, Stage
from tests.browser.conftest import axe_violations, log_in, logged_in_page, refused, save_screenshot, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _card(page, lead):
    return page.locator(f"#card-{lead.public_id}")


def _first_in(stage: str) -> Lead:
    return Lead.objects.filter(stage=stage).order_by("-created_at", "-id").first()


def _drag(page, source, target_list) -> None:
    """Drag like a person: press, move in small steps (SortableJS fallback mode), release."""
    box = source.bounding_box()
    target = target_list.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 12)
    page.mouse.down()
    page.mouse.move(box["x"] + 40, box["y"] + 30, steps=5)
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + 40, steps=15)
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + 50, steps=3)
    page.mouse.up()


def test_log_in_and_see_the_columns(browser_page, owner, board_leads):
    browser_page.goto("/board/")
    assert "/admin/login/" in browser_page.url  # anonymous: the login page, no token in the URL
    log_in(browser_page)
    for label in (
        "New",
        "Contacted",
        "Replied",
        "Booked",
        "Call done",
        "Proposal sent",
        "Signed",
        "Paid",
        "Nurture",
        "Lost",
    ):
        assert browser_page.locator(f"#columns h2:text-is('{label}')").count() == 1
    assert browser_page.locator("#col-new .column-count").inner_text() == "14"
    newest = _first_in(Stage.NEW)
    card = _card(browser_page, newest)
    assert card.locator(".pill-new").count() == 1 or newest.seen_at is not None
    assert card.locator("time").get_attribute("datetime")
    save_screenshot(browser_page, "board-desktop")
    card.locator(".card-link").click()
    browser_page.wait_for_url(f"**/board/lead/{newest.public_id}/")
    assert browser_page.locator("h1").inner_text() == str(newest)


def test_move_by_menu_then_reload(owner_page, board_leads):
    lead = _first_in(Stage.NEW)
    owner_page.goto("/board/")
    card = _card(owner_page, lead)
    card.locator(".move-toggle").click()
    card.locator("button[value=contacted]").click()
    status = owner_page.locator("#move-status")
    assert status.inner_text().startswith(("Saving", "Saved"))
    owner_page.wait_for_selector("#move-status[data-tone=good]")
    assert status.inner_text().startswith("Saved")
    assert owner_page.locator(f"#col-contacted #card-{lead.public_id}").count() == 1
    assert owner_page.locator("#col-contacted .column-count").inner_text() == "9"
    owner_page.reload()
    assert owner_page.locator(f"#col-contacted #card-{lead.public_id}").count() == 1
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED and lead.stage_changes.count() == 1


def test_move_by_drag_and_drop_then_reload(new_page, owner, live_server, board_leads):
    page = logged_in_page(new_page, owner, live_server, viewport={"width": 1600, "height": 900})
    lead = _first_in(Stage.NEW)
    page.goto("/board/")
    _drag(page, _card(page, lead), page.locator("#col-replied .cards"))
    page.wait_for_selector("#move-status[data-tone=good]")
    assert page.locator("#move-status").inner_text().startswith("Saved")
    page.reload()
    assert page.locator(f"#col-replied #card-{lead.public_id}").count() == 1
    lead.refresh_from_db()
    assert lead.stage == Stage.REPLIED


def test_an_illegal_move_rolls_back_with_the_reason(new_page, owner, live_server, board_leads, expect_console_errors):
    expect_console_errors(refused("/move/", 422))
    page = logged_in_page(new_page, owner, live_server, viewport={"width": 1600, "height": 900})
    lead = _first_in(Stage.CONTACTED)
    page.goto("/board/")
    _drag(page, _card(page, lead), page.locator("#col-new .cards"))  # Contacted -> New is not allowed
    page.wait_for_selector("#move-status[data-tone=error]")
    message = page.locator("#move-status").inner_text()
    assert "cannot move from Contacted to New" in message and "back in Contacted" in message
    assert page.locator(f"#col-contacted #card-{lead.public_id}").count() == 1
    assert page.locator("#col-new .column-count").inner_text() == "14"
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED


def test_a_newer_change_elsewhere_is_a_conflict_and_rolls_back(owner_page, board_leads, expect_console_errors):
    expect_console_errors(refused("/move/", 409))
    lead = _first_in(Stage.NEW)
    owner_page.goto("/board/")
    Lead.objects.filter(pk=lead.pk).update(stage=Stage.REPLIED)  # someone else moved it meanwhile
    card = _card(owner_page, lead)
    card.locator(".move-toggle").click()
    card.locator("button[value=contacted]").click()
    owner_page.wait_for_selector("#move-status[data-tone=error]")
    assert "in the meantime" in owner_page.locator("#move-status").inner_text()
    assert owner_page.locator(f"#col-new #card-{lead.public_id}").count() == 1


def test_a_network_error_rolls_back(owner_page, board_leads, expect_console_errors):
    expect_console_errors(refused("/move/", "ERR_FAILED"))
    lead = _first_in(Stage.NEW)
    owner_page.goto("/board/")
    owner_page.route("**/move/", lambda route: route.abort())
    card = _card(owner_page, lead)
    card.locator(".move-toggle").click()
    card.locator("button[value=booked]").click()
    owner_page.wait_for_selector("#move-status[data-tone=error]")
    assert "could not be reached" in owner_page.locator("#move-status").inner_text()
    assert owner_page.locator(f"#col-new #card-{lead.public_id}").count() == 1


def test_the_stage_bar_stays_visible_after_scrolling(owner_page, board_leads):
    owner_page.goto("/board/")
    owner_page.mouse.wheel(0, 1500)
    wait_until(owner_page, "window.scrollY > 300")
    box = owner_page.locator("#stage-bar").bounding_box()
    assert -1 <= box["y"] <= 2
    assert owner_page.locator("#stage-bar a.chip[data-stage=booked]").is_visible()


def test_the_board_works_at_phone_width(new_page, owner, live_server, board_leads):
    page = logged_in_page(new_page, owner, live_server, viewport={"width": 390, "height": 844}, has_touch=True)
    page.goto("/board/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    first = page.locator("#col-new").bounding_box()
    assert first["width"] >= 340 and first["x"] >= 0
    assert page.locator("#col-contacted").bounding_box()["x"] >= 390  # one column at a time
    save_screenshot(page, "board-phone")
    page.locator("#stage-bar a.chip[data-stage=booked]").click()
    wait_until(page, "Math.abs(document.getElementById('col-booked').getBoundingClientRect().left) < 30")
    lead = _first_in(Stage.BOOKED)
    card = _card(page, lead)
    card.locator(".move-toggle").click()
    card.locator("button[value=call_done]").click()
    page.wait_for_selector("#move-status[data-tone=good]")
    lead.refresh_from_db()
    assert lead.stage == Stage.CALL_DONE


def test_no_serious_accessibility_violations_on_the_board_and_lead_page(owner_page, board_leads):
    owner_page.goto("/board/")
    owner_page.locator(".move-toggle").first.click()  # the open menu is checked too
    assert axe_violations(owner_page, serious_only=True) == []
    lead = _first_in(Stage.REPLIED)
    owner_page.goto(f"/board/lead/{lead.public_id}/")
    assert axe_violations(owner_page, serious_only=True) == []
    save_screenshot(owner_page, "lead-page")


def test_the_board_without_javascript(new_page, owner, live_server, board_leads):
    page = logged_in_page(new_page, owner, live_server, java_script_enabled=False)
    page.goto("/board/")
    assert page.locator("#columns .column").count() == 10
    lead = _first_in(Stage.NEW)
    card = _card(page, lead)
    assert card.locator(".card-link").get_attribute("href") == f"/board/lead/{lead.public_id}/"
    card.locator(".card-link").click()  # the lead's page has the stage form
    page.wait_for_url(f"**/board/lead/{lead.public_id}/")
    page.locator(".move-form-page button[value=contacted]").click()  # a plain form POST, redirected back
    page.wait_for_selector(".flash-item")
    assert "Saved" in page.locator(".flash-item").inner_text()
    page.goto("/board/")
    assert page.locator(f"#col-contacted #card-{lead.public_id}").count() == 1
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED
