"""Shared fixtures for real-browser tests: Debian's chromium driven by Playwright's sync API.

    pytestmark = [pytest.mark.browser]

    def test_something(owner_page, live_server):
        owner_page.goto("/board/")          # base_url is the live server
        save_screenshot(owner_page, "board")

`browser_page` is a fresh page (own context, 1280x860) on the live server; `owner_page` is the
same, logged in as a staff owner; `new_page(viewport=..., java_script_enabled=...)` makes more.
Tests are skipped with a reason when chromium is not installed.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
OWNER_USERNAME = "owner"
OWNER_PASSWORD = "Owner-Browser-Pass-1"  # a throwaway test account's password


def save_screenshot(page: Any, name: str, *, full_page: bool = False) -> Path:
    """Save a PNG under artifacts/screenshots/ (ignored by git), one per run and name."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
    path = SCREENSHOT_DIR / f"{safe}-{datetime.now(UTC):%Y%m%d-%H%M%S}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def log_in(
    page: Any, *, username: str = OWNER_USERNAME, password: str = OWNER_PASSWORD, next_path: str = "/board/"
) -> None:
    """Log in through the real login form (anonymous visitors are sent there)."""
    page.goto(next_path)
    page.wait_for_selector("#id_username")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_path.split("?")[0])))


def wait_until(page: Any, expression: str, *, timeout: float = 10.0) -> None:
    """Wait until a JavaScript expression is true on the page.

    Playwright's `wait_for_function` evaluates a string with `eval` inside the page, which the
    pages' Content-Security-Policy refuses; `evaluate` goes through the DevTools protocol instead.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout}s: {expression}")
        page.wait_for_timeout(50)


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium); browser tests need it")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; Django would then refuse the
    # test's own (synchronous) ORM calls. Allowed only while the browser is up.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(chromium_browser: Any, live_server: Any) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def make(*, viewport: dict[str, int] | None = None, **options: Any) -> Any:
        context = chromium_browser.new_context(
            base_url=live_server.url, viewport=viewport or {"width": 1280, "height": 860}, **options
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def browser_page(new_page: Callable[..., Any]) -> Any:
    return new_page()


@pytest.fixture
def owner(transactional_db: None) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser(OWNER_USERNAME, "owner@example.com", OWNER_PASSWORD)


def logged_in_page(new_page: Callable[..., Any], owner: Any, live_server: Any, **options: Any) -> Any:
    """A page whose context carries the owner's session cookie (quicker than the login form)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(owner)
    page = new_page(**options)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return page


@pytest.fixture
def owner_page(new_page: Callable[..., Any], owner: Any, live_server: Any) -> Any:
    return logged_in_page(new_page, owner, live_server)
