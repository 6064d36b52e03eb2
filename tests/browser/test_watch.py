"""The suite's own watch over the browser: every page it opens reports console errors, uncaught
exceptions, refused requests and 4xx/5xx answers, and no test can open a page around it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BROWSER_TESTS = Path(__file__).resolve().parent


def test_the_watch_sees_each_kind_of_problem(new_page, browser_problems, expect_console_errors):
    page = new_page()
    page.goto("/healthz/")
    page.evaluate("console.error('logged on purpose')")
    page.evaluate("setTimeout(() => { throw new Error('thrown on purpose'); }, 0)")
    page.wait_for_timeout(100)
    page.route("**/refused-on-purpose/", lambda route: route.abort())
    page.evaluate("fetch('/refused-on-purpose/').catch(() => null)")
    page.goto("/no-such-page/")
    seen = "\n".join(browser_problems.unexpected())
    assert re.search(r"console error at .*/healthz/: logged on purpose", seen), seen
    assert re.search(r"uncaught error on .*/healthz/: .*thrown on purpose", seen), seen
    assert re.search(r"request failed: GET .*/refused-on-purpose/: net::ERR_FAILED", seen), seen
    assert re.search(r"HTTP 404: GET .*/no-such-page/", seen), seen
    # Declared, so this test passes; each declaration must match something it saw.
    for pattern in ("logged on purpose", "thrown on purpose", "refused-on-purpose", "/no-such-page/"):
        expect_console_errors(pattern)
    assert browser_problems.unexpected() == []
    assert browser_problems.unmatched_expectations() == []


def test_a_declared_error_that_never_happens_is_reported(new_page, browser_problems):
    browser_problems.expected.append(re.compile("never happens"))
    new_page().goto("/healthz/")
    assert browser_problems.unmatched_expectations() == ["never happens"]
    browser_problems.expected.clear()


def test_every_browser_test_gets_its_pages_from_the_watched_fixtures():
    """Only conftest.py starts chromium; a test making its own browser or context would be unwatched."""
    offenders = []
    for path in sorted(BROWSER_TESTS.glob("*.py")):
        if path.name in ("conftest.py", Path(__file__).name):
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("sync_playwright", "async_playwright", "new_context(", ".launch(", "_chromium"):
            if needle in text:
                offenders.append(f"{path.name}: {needle}")
    assert offenders == []
