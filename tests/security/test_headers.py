"""Every page carries a Content-Security-Policy and a Permissions-Policy; the board and the
public pages run no inline script (the policy would refuse it), so a stored XSS has nowhere to go.

tests/browser/test_csp.py checks the same pages, and the admin, in a real browser with zero
violations in the console.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from billing.services.links import proposal_link_token
from outreach.services.suppression import unsubscribe_token
from tests.billing.conftest import sent_proposal
from tests.bookings.factories import EventTypeFactory
from tests.leads.factories import staff_user

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# The board's and the public pages' templates (the admin has its own policy; see below).
STRICT_TEMPLATES = sorted(
    [
        TEMPLATES / "_base.html",
        *(TEMPLATES / "leads").rglob("*.html"),
        *(TEMPLATES / "bookings").glob("*.html"),
        *(TEMPLATES / "billing").glob("*.html"),
    ]
)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)


def directives(header: str) -> dict[str, list[str]]:
    parts = (part.strip().split() for part in header.split(";") if part.strip())
    return {part[0]: part[1:] for part in parts}


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    client.force_login(staff_user("owner", role="Owner"))
    return client


@pytest.fixture
def public_pages() -> dict[str, str]:
    EventTypeFactory(slug="intro-call")
    return {
        "booking": "/book/intro-call/",
        "proposal": f"/p/{proposal_link_token(proposal=sent_proposal())}/",
        "unsubscribe": f"/u/{unsubscribe_token(email='ada@example.com')}/",
        "health": "/healthz/",
        "not found": "/no-such-page/",
    }


def _strict_policy_checks(header: str) -> None:
    policy = directives(header)
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    for directive in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in policy[directive], directive
        assert "'unsafe-eval'" not in policy[directive], directive


def test_public_pages_carry_a_strict_csp_and_a_permissions_policy(client, public_pages):
    for name, path in public_pages.items():
        response = client.get(path)
        assert response.status_code < 500, name
        _strict_policy_checks(response["Content-Security-Policy"])
        assert "camera=()" in response["Permissions-Policy"], name
        assert "geolocation=()" in response["Permissions-Policy"], name


def test_the_board_and_its_partials_carry_a_strict_csp(staff_client):
    for path in ("/board/", "/board/needs-you/", "/board/column/new/"):
        response = staff_client.get(path)
        assert response.status_code == 200, path
        _strict_policy_checks(response["Content-Security-Policy"])
        assert "Permissions-Policy" in response


def test_the_admin_keeps_scripts_strict_and_allows_its_own_inline_styles(staff_client):
    response = staff_client.get("/admin/")

    policy = directives(response["Content-Security-Policy"])
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert "'unsafe-inline'" in policy["style-src"]  # Django's own change list writes a <style>
    assert "Permissions-Policy" in response


def test_payment_checkout_is_an_allowed_form_target(client, public_pages):
    # Paying posts to us, and we redirect to Stripe Checkout: form-action covers the redirect.
    policy = directives(client.get(public_pages["proposal"])["Content-Security-Policy"])
    assert "https://checkout.stripe.com" in policy["form-action"]


@pytest.mark.parametrize("template", STRICT_TEMPLATES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_board_and_public_templates_have_no_inline_script_handler_or_style(template):
    text = template.read_text()
    assert not INLINE_SCRIPT.search(text), "inline <script>: move it to a static file"
    assert not EVENT_HANDLER.search(text), "inline event handler: bind it in a static script"
    assert not STYLE_ATTRIBUTE.search(text), "style attribute: use a class in the page's CSS"


def test_rendered_public_pages_have_no_inline_script(client, staff_client, public_pages):
    pages = {**public_pages, "board": "/board/"}
    for name, path in pages.items():
        html = (staff_client if name == "board" else client).get(path).content.decode()
        assert not INLINE_SCRIPT.search(html), name
        assert not EVENT_HANDLER.search(html), name
