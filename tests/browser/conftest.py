"""Shared fixtures for real-browser tests: Debian's chromium driven by Playwright's sync API.

    pytestmark = [pytest.mark.browser]

    def test_something(owner_page, live_server):
        owner_page.goto("/board/")          # base_url is the live server
        save_screenshot(owner_page, "board")

`browser_page` is a fresh page (own context, 1280x860) on the live server; `owner_page` is the
same, logged in as a staff owner; `new_page(viewport=..., java_script_enabled=...)` makes more.
Every page comes from `new_page`: there is no other way to a browser here.

Every page is watched: a console error, an uncaught exception, a request the browser could not
make, or a 4xx/5xx answer from the live server fails the test at teardown, listing each with its
URL. A test that provokes one on purpose (a 404 page, a refused post) says so first with
`expect_console_errors(pattern)`; a declared pattern that never matched fails the test too.
Tests are skipped with a reason when chromium is not installed.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from clientsflow.cache import board_version_bump
from leads.models import Lead, Stage

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
OWNER_USERNAME = "owner"
OWNER_PASSWORD = "Owner-Browser-Pass-1"  # a throwaway test account's password
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}


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


class BrowserProblems:
    """What went wrong in the browser during one test, from every context `new_page` made."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.seen: list[str] = []
        self.expected: list[re.Pattern[str]] = []

    def watch(self, context: Any) -> None:
        context.on("console", self._on_console)
        context.on(
            "weberror", lambda error: self.seen.append(f"uncaught error on {_page_url(error.page)}: {error.error}")
        )
        context.on("requestfailed", self._on_request_failed)
        context.on("response", self._on_response)

    def _on_console(self, message: Any) -> None:
        if message.type == "error":
            where = message.location.get("url") or _page_url(message.page)
            self.seen.append(f"console error at {where}: {message.text}")

    def _on_request_failed(self, request: Any) -> None:
        failure = request.failure or ""
        # ERR_ABORTED is the browser dropping its own request: the test navigated on, or a
        # navigation became a download. Nothing was refused.
        if "net::ERR_ABORTED" not in failure:
            self.seen.append(f"request failed: {request.method} {request.url}: {failure}")

    def _on_response(self, response: Any) -> None:
        if response.status >= 400 and _origin(response.url) == self.origin:
            self.seen.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def unexpected(self) -> list[str]:
        return [line for line in self.seen if not any(pattern.search(line) for pattern in self.expected)]

    def unmatched_expectations(self) -> list[str]:
        return [pattern.pattern for pattern in self.expected if not any(pattern.search(line) for line in self.seen)]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _page_url(page: Any) -> str:
    return page.url if page is not None else "(no page)"


@pytest.fixture
def browser_problems(live_server: Any) -> Iterator[BrowserProblems]:
    """Fails the test at teardown if any page logged a console error, threw, or got a failed answer."""
    problems = BrowserProblems(_origin(live_server.url))
    yield problems
    unexpected = problems.unexpected()
    unmatched = problems.unmatched_expectations()
    if unexpected or unmatched:
        lines = [f"  {line}" for line in unexpected]
        lines += [f"  declared but never seen: {pattern}" for pattern in unmatched]
        pytest.fail("the browser reported problems:\n" + "\n".join(lines), pytrace=False)


def refused(path: str, status: int | str) -> str:
    """The pattern for one deliberately refused request to `path` (a regular expression): both the
    HTTP line and Chromium's console line about it. `status` may be "ERR_FAILED" (no answer)."""
    return rf"(HTTP {status}: \w+ |request failed: \w+ )\S*{path}|{path}\S*: Failed to load resource: .*{status}"


@pytest.fixture
def expect_console_errors(browser_problems: BrowserProblems) -> Callable[[str], None]:
    """`expect_console_errors(r"HTTP 404: GET .*/book/manage/")` allows the lines a regular
    expression matches (console text, URLs and statuses as the failure lists them), and requires
    that at least one such line was seen."""

    def expect(pattern: str) -> None:
        browser_problems.expected.append(re.compile(pattern))

    return expect


@pytest.fixture(scope="module")
def _chromium() -> Iterator[Any]:
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
def new_page(_chromium: Any, live_server: Any, browser_problems: BrowserProblems) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def make(*, viewport: dict[str, int] | None = None, **options: Any) -> Any:
        context = _chromium.new_context(base_url=live_server.url, viewport=viewport or DESKTOP, **options)
        context.set_default_timeout(10_000)
        browser_problems.watch(context)
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


def axe_violations(page: Any, *, serious_only: bool = False, context: str | None = None) -> list[str]:
    """axe-core's violations on the page as it is now (all of them, or only serious and critical)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, context=context) if context else Axe().run(page)
    return [
        f"{violation['id']} ({violation.get('impact')}): {violation['help']} "
        f"({[node['target'] for node in violation['nodes']][:5]})"
        for violation in results.response["violations"]
        if not serious_only or violation.get("impact") in ("serious", "critical")
    ]


PEOPLE = [
    ("Maya Chen", "Brightline Dental", "website"),
    ("Jonas Weber", "Northwind Roofing", "ghl"),
    ("Priya Raman", "Kettle & Crumb Bakery", "referral"),
    ("Luis Ortega", "Ortega Landscaping", "website"),
    ("Amara Okafor", "Okafor Legal", "ghl"),
    ("Tom Becker", "Becker Physio", "website"),
    ("Sofia Rossi", "Rossi Interiors", "referral"),
    ("Daniel Kim", "Summit Climbing Gym", "ghl"),
    ("Hannah Moore", "Moore Family Dentistry", "website"),
    ("Omar Haddad", "Haddad Auto Care", "website"),
    ("Elena Petrova", "Petrova Yoga Studio", "referral"),
    ("Kwame Mensah", "Mensah Builders", "ghl"),
]
STAGE_PLAN = [Stage.NEW] * 14 + [Stage.CONTACTED] * 8 + [Stage.REPLIED] * 6 + [Stage.BOOKED] * 5
STAGE_PLAN += [Stage.CALL_DONE] * 3 + [Stage.PROPOSAL_SENT] * 3 + [Stage.SIGNED] * 2 + [Stage.PAID] * 2
STAGE_PLAN += [Stage.NURTURE] * 2 + [Stage.LOST] * 2


@pytest.fixture
def board_leads(owner: Any) -> list[Lead]:
    """A believable board for the board's tests: names, companies, sources, arrivals spread over days."""
    now = timezone.now()
    leads = []
    for i, stage in enumerate(STAGE_PLAN):
        name, company, source = PEOPLE[i % len(PEOPLE)]
        suffix = "" if i < len(PEOPLE) else f" {i // len(PEOPLE) + 1}"
        email = f"{name.split()[0].lower()}{i}@example.com"
        leads.append(
            Lead(
                name=name + suffix,
                company=company,
                source=source,
                email=email,
                email_normalized=email,
                stage=stage,
                seen_at=None if i % 4 == 0 or (stage == Stage.NEW and i < 5) else now,
            )
        )
    Lead.objects.bulk_create(leads)
    ages = [timedelta(minutes=12), timedelta(hours=2), timedelta(hours=5), timedelta(hours=30), timedelta(days=3)]
    for i, lead in enumerate(Lead.objects.order_by("id")):
        Lead.objects.filter(pk=lead.pk).update(created_at=now - ages[i % len(ages)] - timedelta(minutes=i))
    board_version_bump()  # as every service that changes the board does
    return list(Lead.objects.order_by("id"))


# The page's own report of every refused script, style, frame or form target; added by the
# browser before any page script runs (init scripts are not subject to the page's CSP).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def record_csp_violations(page: Any) -> None:
    """Record the page's own report of each refused load (it names the directive)."""
    page.add_init_script(RECORD_VIOLATIONS)


def csp_violations(page: Any) -> list[str]:
    return page.evaluate("window.__cspViolations || []")
