"""Security checks across the whole URL map.

- `check --deploy` under production settings lives in tests/clientsflow/test_settings.py
  (test_check_deploy_passes_with_production_settings); it is not repeated here.
- Every state-changing view needs a CSRF token or a verified signature: the URL resolver is walked,
  every csrf_exempt view must be on an allowlist whose entry proves its own check refuses an
  unsigned delivery, and every other URL refuses a POST without a CSRF token (403).
- The board and the admin need a staff login (there are no export views: exports are management
  commands and staff-only admin actions).
- The public forms (booking page, proposal sign, unsubscribe) are rate-limited per IP.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.security.test_bad_input import row_counts

pytestmark = pytest.mark.django_db

SAMPLE_ARGS = {"str": "sample", "int": "1", "slug": "sample", "path": "1", "uuid": str(uuid.UUID(int=1))}


def _route_to_path(route: str) -> str:
    """A concrete path for a route: converters get sample values, regex groups a sample word."""
    route = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE_ARGS.get(m.group(1) or "str", "sample"), route)
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "leads", route)
    return "/" + route.replace("^", "").replace("$", "").replace("\\", "")


def all_views() -> Iterator[tuple[str, Callable]]:
    def walk(patterns: list, prefix: str) -> Iterator[tuple[str, Callable]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.callback

    return walk(get_resolver().url_patterns, "")


# --- the csrf_exempt allowlist: each entry proves its own check ------------------------------


def _refuses(path: str, statuses: tuple[int, ...], **post: object) -> None:
    before = row_counts()
    response = Client().post(path, **post)
    assert response.status_code in statuses, (path, response.status_code, response.content[:200])
    assert row_counts() == before


def proves_lead_webhook() -> None:
    body = json.dumps({"email": "ada@example.com"})
    _refuses("/webhooks/leads/website/", (401,), data=body, content_type="application/json")
    _refuses(
        "/webhooks/leads/website/",
        (401,),
        data=body,
        content_type="application/json",
        headers={"X-Signature": "sha256=" + "0" * 64},
    )
    _refuses("/webhooks/leads/ghl/", (401,), data=body, content_type="application/json")


def proves_replies_webhook() -> None:
    _refuses("/webhooks/replies/", (401,), data={"timestamp": "1", "token": "t", "signature": "0" * 64})


def proves_fireflies_webhook() -> None:
    body = json.dumps({"meeting_id": "m1", "event": "meeting.transcribed"})
    _refuses("/webhooks/fireflies/", (401,), data=body, content_type="application/json")


def proves_meet_webhook() -> None:
    body = json.dumps({"meeting_link": "https://meet.google.com/abc"})
    _refuses("/webhooks/meet/participant-joined/", (401,), data=body, content_type="application/json")


def proves_stripe_webhook() -> None:
    body = json.dumps({"id": "evt_1", "object": "event", "type": "charge.refunded"})
    _refuses("/webhooks/stripe/", (400,), data=body, content_type="application/json")
    _refuses(
        "/webhooks/stripe/",
        (400,),
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": "t=1,v1=" + "0" * 64},
    )


def proves_unsubscribe() -> None:
    """RFC 8058 one-click: no cookie or CSRF token is possible; the signed token is the authorization."""
    from outreach.services.suppression import unsubscribe_token

    token = unsubscribe_token(email="ada@example.com")
    _refuses(f"/u/{token[:-2]}xx/", (404,), data={"List-Unsubscribe": "One-Click"})
    _refuses("/u/forged/", (404,), data={"List-Unsubscribe": "One-Click"})


CSRF_EXEMPT_ALLOWLIST: dict[str, Callable[[], None]] = {
    "leads.webhooks.lead_webhook": proves_lead_webhook,
    "outreach.webhooks.replies_webhook": proves_replies_webhook,
    "calls.webhooks.fireflies_webhook": proves_fireflies_webhook,
    "calls.webhooks.meet_participant_joined": proves_meet_webhook,
    "billing.webhooks.stripe_webhook": proves_stripe_webhook,
    "outreach.views.unsubscribe": proves_unsubscribe,
}


def _qualname(view: Callable) -> str:
    view = getattr(view, "__wrapped__", view)
    while hasattr(view, "__wrapped__"):
        view = view.__wrapped__
    return f"{view.__module__}.{view.__name__}"


def test_every_csrf_exempt_view_is_on_the_signature_allowlist():
    exempt = {_qualname(view) for _route, view in all_views() if getattr(view, "csrf_exempt", False)}
    assert exempt == set(CSRF_EXEMPT_ALLOWLIST), (
        "A csrf_exempt view must verify a signature and be added to CSRF_EXEMPT_ALLOWLIST with a test; "
        f"unexpected: {exempt - set(CSRF_EXEMPT_ALLOWLIST)}, gone: {set(CSRF_EXEMPT_ALLOWLIST) - exempt}"
    )


@pytest.mark.parametrize("name", sorted(CSRF_EXEMPT_ALLOWLIST))
def test_each_exempt_view_refuses_what_is_not_signed(settings, name):
    settings.LEAD_WEBHOOK_SECRET = "lead-secret"
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    settings.GHL_PUBLIC_KEY = base64.b64encode(raw).decode()
    settings.FIREFLIES_WEBHOOK_SECRET = "ff-secret"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_x"
    settings.MAILGUN_WEBHOOK_SIGNING_KEY = "key-x"
    CSRF_EXEMPT_ALLOWLIST[name]()


@pytest.fixture
def superuser_csrf_client():
    user = get_user_model().objects.create_superuser("root", "root@agency.example", "pw-for-tests-only")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_every_other_url_refuses_a_post_without_a_csrf_token(superuser_csrf_client):
    """Logged in as a superuser, so nothing but the CSRF check stands between the POST and the view."""
    checked, not_refused = 0, []
    before = row_counts()
    for route, view in all_views():
        if getattr(view, "csrf_exempt", False):
            continue
        path = _route_to_path(route)
        response = superuser_csrf_client.post(path, {"action": "delete_selected", "_selected_action": "1"})
        checked += 1
        if response.status_code == 404 and response.resolver_match is None:
            continue  # the sample path did not resolve; nothing was reached
        after = row_counts()  # and the counts before the next POST
        if response.status_code != 403 or after != before:
            not_refused.append((path, response.status_code))
        before = after
    assert checked > 50, "the walk found too few URLs"
    assert not_refused == []


def test_a_post_with_the_token_gets_through_the_check(superuser_csrf_client):
    """The refusal above is the CSRF check, not something else: with the token the board's POST works."""
    superuser_csrf_client.get("/board/")
    token = superuser_csrf_client.cookies["csrftoken"].value
    response = superuser_csrf_client.post("/board/seen/", {"csrfmiddlewaretoken": token})
    assert response.status_code != 403


# --- login required --------------------------------------------------------------------------

STAFF_GETS = [
    "/board/",
    "/board/column/new/",
    "/board/needs-you/",
    f"/board/lead/{uuid.UUID(int=1)}/",
    "/admin/",
    "/admin/leads/lead/",
    "/admin/clientsflow/webhookevent/",
    "/admin/billing/proposal/",
]
STAFF_POSTS = ["/board/seen/", f"/board/lead/{uuid.UUID(int=1)}/move/", "/book/staff/1/cancel/"]


@pytest.mark.parametrize("path", STAFF_GETS + STAFF_POSTS)
def test_anonymous_is_sent_to_the_login_page(path):
    client = Client()
    response = client.post(path) if path in STAFF_POSTS else client.get(path)
    assert response.status_code == 302, (path, response.status_code)
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("path", STAFF_GETS + STAFF_POSTS)
def test_a_logged_in_non_staff_user_is_refused(path):
    user = get_user_model().objects.create_user("lead", "lead@client.example", "pw-for-tests-only")
    client = Client()
    client.force_login(user)
    before = row_counts()
    response = client.post(path) if path in STAFF_POSTS else client.get(path)
    assert response.status_code in (302, 403), (path, response.status_code)
    if response.status_code == 302:
        assert response["Location"].startswith("/admin/login/")
    assert b"ClientsFlow board" not in response.content
    assert row_counts() == before


def test_json_callers_get_a_403_not_a_login_page():
    response = Client().post("/book/staff/1/cancel/", headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert "Log in again" in response.json()["error"]


# --- rate limits on the public forms ---------------------------------------------------------


def test_booking_form_is_rate_limited(settings):
    from tests.bookings.factories import EventTypeFactory

    settings.BOOKING_RATE_LIMIT = "3/m"
    EventTypeFactory(slug="limited-call")
    client = Client()
    statuses = [client.post("/book/limited-call/", {"name": "Ada"}).status_code for _ in range(4)]
    assert statuses[:3] == [400, 400, 400]
    assert statuses[3] == 429
    assert b"Too many attempts" in client.post("/book/limited-call/", {"name": "Ada"}).content


def test_proposal_sign_is_rate_limited(settings):
    from billing.models import Signature
    from billing.services.links import proposal_link_token
    from tests.billing.conftest import sent_proposal

    settings.PROPOSAL_SIGN_RATE_LIMIT = "2/m"
    proposal = sent_proposal()
    path = f"/p/{proposal_link_token(proposal=proposal)}/sign/"
    client = Client()
    statuses = [client.post(path, {"full_name": "A"}).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]
    response = client.post(path, {"full_name": "Ada Lovelace", "email": "ada@example.com", "consent": "yes"})
    assert response.status_code == 429
    assert b"Please wait a minute and try again" in response.content
    assert not Signature.objects.exists()


def test_unsubscribe_is_rate_limited_and_a_limited_post_suppresses_nothing(settings):
    from outreach.models import Suppression
    from outreach.services.suppression import unsubscribe_token

    settings.UNSUBSCRIBE_RATE_LIMIT = "2/m"
    client = Client()
    assert [client.post("/u/forged-1/").status_code, client.post("/u/forged-2/").status_code] == [404, 404]
    response = client.post(f"/u/{unsubscribe_token(email='ada@example.com')}/")
    assert response.status_code == 429
    assert b"Please wait a minute" in response.content
    assert not Suppression.objects.exists()
    # GETs (mail scanners, people reading the page) are never limited.
    assert client.get(f"/u/{unsubscribe_token(email='ada@example.com')}/").status_code == 200


def test_rate_limits_are_per_ip(settings):
    settings.UNSUBSCRIBE_RATE_LIMIT = "1/m"
    assert Client(REMOTE_ADDR="198.51.100.1").post("/u/forged/").status_code == 404
    assert Client(REMOTE_ADDR="198.51.100.1").post("/u/forged/").status_code == 429
    assert Client(REMOTE_ADDR="198.51.100.2").post("/u/forged/").status_code == 404
