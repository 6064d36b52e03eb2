"""Bad input sweep: every public endpoint, fed malformed JSON, wrong types, huge fields, invalid
UTF-8, missing headers and wrong methods, answers a 4xx with a message a sender can act on —
never a 500 — and writes no row.

Where the point is the body, the fuzzed body is signed for real (HMAC with the configured secret,
Stripe's own signature helper, Mailgun's HMAC of timestamp + token), so the body reaches the parser.
Examples are bounded so the whole file stays well under a minute.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
import stripe
from django.apps import apps
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from clientsflow.signatures import hmac_sha256_hex
from clientsflow.site import site_settings

pytestmark = pytest.mark.django_db

LEAD_SECRET = "lead-secret-for-the-sweep"
FIREFLIES_SECRET = "fireflies-secret-for-the-sweep"
STRIPE_SECRET = "whsec_sweep_secret"
MAILGUN_KEY = "key-sweep-signing-0123456789abcdef"
OUR_APPS = ("clientsflow", "leads", "outreach", "classify", "bookings", "calls", "billing")

FUZZ = hsettings(
    max_examples=25,
    deadline=None,
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- strategies ------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
# Never valid as a contact field, a meeting id or an event type: containers and floats with a fraction.
wrong_types = (
    st.lists(scalars, max_size=3)
    | st.dictionaries(st.text(max_size=5), scalars, max_size=3)
    | st.floats(allow_nan=False).filter(lambda f: f != int(f) if f == f and abs(f) != float("inf") else True)
)
broken_json = st.sampled_from(
    [b"", b"{", b"}", b'{"email": ', b'{"email": "a@b.example",}', b"nul", b"[1, 2", b"{'single': 'quotes'}", b"\x00"]
) | st.binary(max_size=60).filter(lambda b: not _is_json(b))
non_object_json = (
    st.lists(json_values, max_size=4) | st.integers() | st.text(max_size=20) | st.booleans() | st.none()
).map(lambda v: json.dumps(v).encode())
# 0xFF never occurs in UTF-8, so every one of these is invalid.
invalid_utf8 = st.binary(max_size=40).map(lambda b: b"\xff" + b + b'{"email": "x\xfe@example.com"}')
bad_bodies = broken_json | non_object_json | invalid_utf8
http_junk = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=80)
wrong_methods = st.sampled_from(["GET", "PUT", "PATCH", "DELETE"])


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return True


# --- helpers ---------------------------------------------------------------------------------


def row_counts() -> dict[str, int]:
    """Every table's row count (all rows, whatever a model's default manager hides), in one query:
    the URL sweeps take this before and after each of hundreds of requests."""
    # The settings row is made by the first page that reads it, whatever that request was.
    site_settings()
    models = [model for label in OUR_APPS for model in apps.get_app_config(label).get_models()]
    quote = connection.ops.quote_name
    sql = " UNION ALL ".join(
        f"SELECT {index}, COUNT(*) FROM {quote(model._meta.db_table)}"  # noqa: S608  (our own table names)
        for index, model in enumerate(models)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        counts = dict(cursor.fetchall())
    return {model._meta.label: counts[index] for index, model in enumerate(models)}


def assert_refused(response, before: dict[str, int], *, statuses: tuple[int, ...] = ()) -> None:
    """A 4xx that says something, and not one row more (or less) than before."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if statuses:
        assert response.status_code in statuses, (response.status_code, response.content[:300])
    if response.get("Content-Type", "").startswith("application/json"):
        assert response.json().get("error"), response.content[:300]
    elif response.status_code != 405:  # Django's 405 carries the Allow header instead of a body
        assert response.content.strip(), "a refusal must say why"
    else:
        assert response["Allow"]
    assert row_counts() == before, "a refused request wrote rows"


@pytest.fixture
def configured(settings):
    settings.LEAD_WEBHOOK_SECRET = LEAD_SECRET
    settings.FIREFLIES_WEBHOOK_SECRET = FIREFLIES_SECRET
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_SECRET
    settings.MAILGUN_WEBHOOK_SIGNING_KEY = MAILGUN_KEY
    # The sweep is about input, not the rate limits (tests/security/test_security.py has those).
    settings.BOOKING_RATE_LIMIT = "100000/m"
    settings.PROPOSAL_SIGN_RATE_LIMIT = "100000/m"
    settings.UNSUBSCRIBE_RATE_LIMIT = "100000/m"
    return settings


def post_raw(path: str, body: bytes, headers: dict[str, str] | None = None, method: str = "post"):
    client = Client()
    if method == "get":
        return client.get(path, headers=headers or {})
    return getattr(client, method)(path, data=body, content_type="application/json", headers=headers or {})


# --- JSON webhooks signed with HMAC-SHA256 ---------------------------------------------------

HMAC_WEBHOOKS = [
    ("/webhooks/leads/website/", "X-Signature", LEAD_SECRET),
    ("/webhooks/meet/participant-joined/", "X-Signature", LEAD_SECRET),
    ("/webhooks/fireflies/", "X-Hub-Signature", FIREFLIES_SECRET),
]


@pytest.mark.parametrize(("path", "header", "secret"), HMAC_WEBHOOKS)
@FUZZ
@given(body=bad_bodies)
def test_signed_malformed_bodies_are_400(configured, path, header, secret, body):
    before = row_counts()
    response = post_raw(path, body, {header: "sha256=" + hmac_sha256_hex(secret, body)})
    assert_refused(response, before, statuses=(400,))


@pytest.mark.parametrize(("path", "header", "secret"), HMAC_WEBHOOKS)
@FUZZ
@given(body=bad_bodies | json_values.map(lambda v: json.dumps(v).encode()), signature=st.none() | http_junk)
def test_unsigned_or_badly_signed_bodies_are_401(configured, path, header, secret, body, signature):
    before = row_counts()
    headers = {} if signature is None else {header: signature}
    response = post_raw(path, body, headers)
    assert_refused(response, before, statuses=(401,))


@FUZZ
@given(
    field=st.sampled_from(["name", "email", "phone", "company", "full_name", "email_address", "phoneNumber"]),
    value=wrong_types,
    nested=st.booleans(),
)
def test_lead_webhook_wrong_types_are_400(configured, field, value, nested):
    contact: dict[str, Any] = {field: value}
    if field not in ("email", "email_address"):
        contact["email"] = ["not", "text"]  # no usable address either way
    body = json.dumps({"contact": contact} if nested else contact).encode()
    before = row_counts()
    response = post_raw("/webhooks/leads/website/", body, {"X-Signature": hmac_sha256_hex(LEAD_SECRET, body)})
    assert_refused(response, before, statuses=(400,))


@FUZZ
@given(
    payload=st.dictionaries(
        st.text(max_size=12).filter(
            lambda k: k.lower() not in {"contact", "phone", "email"} and "phone" not in k.lower()
        ),
        json_values,
        max_size=5,
    )
)
def test_lead_webhook_without_contact_details_is_400(configured, payload):
    body = json.dumps(payload).encode()
    before = row_counts()
    response = post_raw("/webhooks/leads/website/", body, {"X-Signature": hmac_sha256_hex(LEAD_SECRET, body)})
    assert_refused(response, before, statuses=(400,))
    if payload:
        error = response.json()["error"]
        assert "email address or a phone number" in error or "must be text" in error or "cannot be stored" in error


@pytest.mark.parametrize(
    ("field", "size"), [("name", 201), ("email", 255), ("phone", 65), ("company", 201), ("name", 200_000)]
)
def test_lead_webhook_huge_fields_are_400(configured, field, size):
    payload = {"email": "ada@example.com", field: "x" * size}
    body = json.dumps(payload).encode()
    before = row_counts()
    response = post_raw("/webhooks/leads/website/", body, {"X-Signature": hmac_sha256_hex(LEAD_SECRET, body)})
    assert_refused(response, before, statuses=(400,))
    assert "longer than" in response.json()["error"]


@pytest.mark.parametrize(("path", "header", "secret"), HMAC_WEBHOOKS)
def test_bodies_over_the_limit_are_413(configured, path, header, secret):
    body = b'{"pad": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    before = row_counts()
    response = post_raw(path, body, {header: hmac_sha256_hex(secret, body)})
    assert_refused(response, before, statuses=(413,))


@pytest.mark.parametrize("source", ["UPPER", "has space", "a" * 41, "-leading", "dot.ted"])
def test_lead_webhook_unknown_source_shapes_are_404(configured, source):
    body = b'{"email": "ada@example.com"}'
    before = row_counts()
    response = post_raw(f"/webhooks/leads/{source}/", body, {"X-Signature": hmac_sha256_hex(LEAD_SECRET, body)})
    assert_refused(response, before, statuses=(404,))


@FUZZ
@given(
    meeting_id=wrong_types | st.none() | st.just(""),
    event=st.one_of(wrong_types, st.none(), st.just(""), st.just("meeting.transcribed")),
    v2=st.booleans(),
)
def test_fireflies_wrong_types_are_400(configured, meeting_id, event, v2):
    payload = {"meeting_id": meeting_id, "event": event} if v2 else {"meetingId": meeting_id, "eventType": event}
    body = json.dumps(payload).encode()
    before = row_counts()
    response = post_raw(
        "/webhooks/fireflies/", body, {"X-Hub-Signature": "sha256=" + hmac_sha256_hex(FIREFLIES_SECRET, body)}
    )
    assert_refused(response, before, statuses=(400,))


@FUZZ
@given(
    link=st.one_of(
        wrong_types,
        st.none(),
        st.text(max_size=30).filter(lambda t: not t.strip().lower().startswith("http")),
        st.just("ftp://meet.example/x"),
        st.just("https://meet.example/" + "h" * 1001),
    ),
    participants=json_values,
    title=json_values,
)
def test_meet_webhook_bad_links_are_400(configured, link, participants, title):
    payload = {"meeting_link": link, "participants": participants, "title": title}
    body = json.dumps(payload).encode()
    before = row_counts()
    response = post_raw("/webhooks/meet/participant-joined/", body, {"X-Signature": hmac_sha256_hex(LEAD_SECRET, body)})
    assert_refused(response, before, statuses=(400,))


@FUZZ
@given(
    participants=st.integers().filter(bool)
    | st.just(True)
    | st.floats(allow_nan=False).filter(bool)
    | st.lists(
        st.integers() | st.lists(scalars, max_size=2) | st.dictionaries(st.sampled_from(["name", "mail"]), scalars),
        min_size=1,
        max_size=3,
    )
)
def test_meet_webhook_bad_participants_are_400(configured, participants):
    payload = {"meeting_link": "https://meet.google.com/abc-defg-hij", "participants": participants}
    body = json.dumps(payload).encode()
    before = row_counts()
    response = post_raw("/webhooks/meet/participant-joined/", body, {"X-Signature": hmac_sha256_hex(LEAD_SECRET, body)})
    assert_refused(response, before, statuses=(400,))


# --- Stripe ----------------------------------------------------------------------------------


def stripe_header(body: bytes, *, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(
        body.decode("utf-8", "replace"), STRIPE_SECRET, timestamp=timestamp
    )


@FUZZ
@given(body=broken_json | non_object_json)
def test_stripe_signed_malformed_bodies_are_400(configured, body):
    before = row_counts()
    # Stripe's helper signs text; these bytes may not be text, so sign the exact bytes sent.
    ts = int(time.time())
    digest = hmac.new(STRIPE_SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    header = f"t={ts},v1={digest}"
    response = post_raw("/webhooks/stripe/", body, {"Stripe-Signature": header})
    assert_refused(response, before, statuses=(400,))


@FUZZ
@given(body=invalid_utf8)
def test_stripe_signed_invalid_utf8_is_400(configured, body):
    ts = int(time.time())
    digest = hmac.new(STRIPE_SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    before = row_counts()
    response = post_raw("/webhooks/stripe/", body, {"Stripe-Signature": f"t={ts},v1={digest}"})
    assert_refused(response, before, statuses=(400,))


@FUZZ
@given(
    event=st.dictionaries(st.sampled_from(["id", "object", "type", "data", "created"]), json_values, max_size=5).filter(
        lambda e: not (isinstance(e.get("id"), str) and e["id"].startswith("evt_"))
    )
)
def test_stripe_signed_events_without_an_event_id_are_400(configured, event):
    body = json.dumps(event)
    before = row_counts()
    response = post_raw("/webhooks/stripe/", body.encode(), {"Stripe-Signature": stripe_header(body.encode())})
    assert_refused(response, before, statuses=(400,))


@FUZZ
@given(header=st.none() | http_junk, skew=st.sampled_from([0, -3600, 3600]))
def test_stripe_unsigned_badly_signed_or_out_of_window_is_400(configured, header, skew):
    body = json.dumps(
        {"id": "evt_sweep", "object": "event", "type": "charge.refunded", "data": {"object": {}}}
    ).encode()
    if header is None and skew:
        header = stripe_header(body, timestamp=int(time.time()) + skew)  # right secret, wrong time
    before = row_counts()
    response = post_raw("/webhooks/stripe/", body, {} if header is None else {"Stripe-Signature": header})
    assert_refused(response, before, statuses=(400,))


def test_stripe_body_over_the_limit_is_413(configured):
    body = b'{"pad": "' + b"x" * (512 * 1024 + 10) + b'"}'
    before = row_counts()
    response = post_raw("/webhooks/stripe/", body, {"Stripe-Signature": stripe_header(body)})
    assert_refused(response, before, statuses=(413,))


# --- Mailgun inbound replies (form-encoded) --------------------------------------------------


def mailgun_signed(fields: dict[str, str], *, timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp if timestamp is not None else str(int(time.time()))
    token = secrets.token_hex(25)
    signature = hmac.new(MAILGUN_KEY.encode(), f"{stamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {**fields, "timestamp": stamp, "token": token, "signature": signature}


@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(["timestamp", "token", "signature", "body-mime", "sender", "recipient"]), http_junk, max_size=6
    )
)
def test_replies_unsigned_or_forged_forms_are_401(configured, fields):
    before = row_counts()
    response = Client().post("/webhooks/replies/", fields)
    assert_refused(response, before, statuses=(400, 401))


@FUZZ
@given(
    timestamp=http_junk.filter(lambda t: not t.strip().lstrip("+-").isdigit()) | st.sampled_from(["0", "99999999999"])
)
def test_replies_signed_with_a_bad_timestamp_are_refused(configured, timestamp):
    before = row_counts()
    response = Client().post(
        "/webhooks/replies/", mailgun_signed({"body-mime": "Subject: hi\n\nhello"}, timestamp=timestamp)
    )
    assert_refused(response, before, statuses=(400, 401))


@FUZZ
@given(body=bad_bodies)
def test_replies_json_or_binary_bodies_are_refused(configured, body):
    before = row_counts()
    response = post_raw("/webhooks/replies/", body)
    assert_refused(response, before, statuses=(415,))


@FUZZ
@given(
    token=st.text(min_size=1, max_size=20).filter(lambda t: not t.isascii()),
    where=st.sampled_from(["token", "timestamp"]),
)
def test_replies_non_ascii_signature_fields_are_401(configured, token, where):
    fields = mailgun_signed({"body-mime": "Subject: hi\n\nhello"})
    fields[where] = token
    before = row_counts()
    response = Client().post("/webhooks/replies/", fields)
    assert_refused(response, before, statuses=(401,))


def test_replies_body_over_the_limit_is_413(configured):
    before = row_counts()
    response = Client().post("/webhooks/replies/", {"x": "1"}, CONTENT_LENGTH=str(11 * 1024 * 1024))
    assert_refused(response, before, statuses=(413,))


# --- wrong methods on every webhook ----------------------------------------------------------

WEBHOOK_PATHS = [
    "/webhooks/leads/website/",
    "/webhooks/replies/",
    "/webhooks/fireflies/",
    "/webhooks/stripe/",
    "/webhooks/meet/participant-joined/",
]


@pytest.mark.parametrize("path", WEBHOOK_PATHS)
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_webhooks_refuse_other_methods_with_405(configured, path, method):
    before = row_counts()
    response = post_raw(path, b'{"email": "ada@example.com"}', method=method)
    assert_refused(response, before, statuses=(405,))
    assert response["Allow"] == "POST"


# --- booking form ----------------------------------------------------------------------------


@pytest.fixture
def booking_page(configured):
    from tests.bookings.factories import EventTypeFactory

    return EventTypeFactory(slug="sweep-call")


form_text = st.text(max_size=40) | st.sampled_from(["", " ", "2026-13-45T99:00", "x" * 3000, "\x00", "tomorrow"])


@FUZZ
@given(
    start=form_text,
    tz=form_text | st.just("Europe/London"),
    name=form_text,
    email=form_text | st.just("ada@example.com"),
    hold=form_text,
    phone=form_text,
)
def test_booking_form_garbage_is_4xx_and_books_nothing(booking_page, start, tz, name, email, hold, phone):
    before = row_counts()
    data = {"start": start, "timezone": tz, "name": name, "email": email, "hold": hold, "phone": phone}
    response = Client().post("/book/sweep-call/", data)
    assert_refused(response, before, statuses=(400, 409))


@FUZZ
@given(body=bad_bodies)
def test_booking_form_raw_bodies_are_4xx(booking_page, body):
    before = row_counts()
    for content_type in ("application/x-www-form-urlencoded", "application/json", "multipart/form-data"):
        response = Client().post("/book/sweep-call/", data=body, content_type=content_type)
        assert_refused(response, before, statuses=(400,))


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_booking_page_refuses_other_methods(booking_page, method):
    before = row_counts()
    response = getattr(Client(), method)("/book/sweep-call/")
    assert_refused(response, before, statuses=(405,))


def test_unknown_booking_page_is_404(booking_page):
    before = row_counts()
    response = Client().post("/book/no-such-page/", {"name": "Ada"})
    assert_refused(response, before, statuses=(404,))


# --- proposal sign ---------------------------------------------------------------------------


@pytest.fixture
def sent_token(configured):
    from billing.services.links import proposal_link_token
    from tests.billing.conftest import sent_proposal

    return proposal_link_token(proposal=sent_proposal())


@FUZZ
@given(
    full_name=form_text,
    email=form_text,
    consent=st.sampled_from(["", "no", "yes", "YES", "1"]),
    digest=form_text | st.just("0" * 64),
)
def test_proposal_sign_garbage_is_400_and_signs_nothing(sent_token, full_name, email, consent, digest):
    before = row_counts()
    data = {"full_name": full_name, "email": email, "consent": consent, "content_sha256": digest}
    response = Client().post(f"/p/{sent_token}/sign/", data)
    assert_refused(response, before, statuses=(400,))
    assert b"Proposal" in response.content or b"proposal" in response.content


@FUZZ
@given(token=http_junk.filter(lambda t: "/" not in t and t not in (".", "..")))
def test_proposal_sign_with_a_bad_token_is_404(configured, token):
    before = row_counts()
    response = Client().post(
        f"/p/{quote(token, safe='')}/sign/", {"full_name": "Ada Lovelace", "email": "a@b.example", "consent": "yes"}
    )
    assert_refused(response, before, statuses=(404, 410))


def test_proposal_sign_refuses_get(sent_token):
    before = row_counts()
    response = Client().get(f"/p/{sent_token}/sign/")
    assert_refused(response, before, statuses=(405,))


# --- unsubscribe -----------------------------------------------------------------------------


@FUZZ
@given(token=http_junk.filter(lambda t: "/" not in t and t not in (".", "..")), one_click=st.booleans())
def test_unsubscribe_with_a_bad_token_is_404_and_suppresses_nothing(configured, token, one_click):
    before = row_counts()
    response = Client().post(f"/u/{quote(token, safe='')}/", {"List-Unsubscribe": "One-Click"} if one_click else {})
    assert_refused(response, before, statuses=(404,))


@FUZZ
@given(position=st.integers(min_value=0, max_value=200), replacement=st.sampled_from("AbZ09_-x"))
def test_unsubscribe_with_a_tampered_token_is_404(configured, position, replacement):
    from outreach.services.suppression import unsubscribe_token

    token = unsubscribe_token(email="ada@example.com")
    position %= len(token)
    tampered = token[:position] + replacement + token[position + 1 :]
    if tampered == token:
        return
    before = row_counts()
    response = Client().post(f"/u/{tampered}/")
    assert_refused(response, before, statuses=(404,))


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_unsubscribe_refuses_other_methods(configured, method):
    from outreach.services.suppression import unsubscribe_token

    before = row_counts()
    response = getattr(Client(), method)(f"/u/{unsubscribe_token(email='ada@example.com')}/")
    assert_refused(response, before, statuses=(405,))


# A sanity check that the sweep's signing is right: the same helpers get a good body accepted.
@pytest.mark.parametrize(
    ("path", "header", "sign"),
    [
        ("/webhooks/leads/website/", "X-Signature", lambda b: hmac_sha256_hex(LEAD_SECRET, b)),
        ("/webhooks/fireflies/", "X-Hub-Signature", lambda b: "sha256=" + hmac_sha256_hex(FIREFLIES_SECRET, b)),
    ],
)
def test_the_sweeps_signatures_are_real(configured, path, header, sign: Callable[[bytes], str]):
    body = json.dumps({"email": "ada@example.com", "meeting_id": "m1", "event": "meeting.transcribed"}).encode()
    response = post_raw(path, body, {header: sign(body)})
    assert response.status_code == 200, response.content


# --- regressions: the 500s this sweep found, pinned as plain examples ---------------------------


@pytest.mark.parametrize("participants", [5, True, 1.5])
def test_regression_meet_participants_that_are_not_a_list_are_400(configured, participants):
    body = json.dumps({"meeting_link": "https://meet.google.com/abc", "participants": participants}).encode()
    before = row_counts()
    response = post_raw("/webhooks/meet/participant-joined/", body, {"X-Signature": hmac_sha256_hex(LEAD_SECRET, body)})
    assert_refused(response, before, statuses=(400,))
    assert "'participants' must be a list" in response.json()["error"]


@pytest.mark.parametrize("body", [b"[]", b"5", b'"evt_1"', b"true", b"null"])
def test_regression_stripe_signed_json_that_is_not_an_object_is_400(configured, body):
    before = row_counts()
    response = post_raw("/webhooks/stripe/", body, {"Stripe-Signature": stripe_header(body)})
    assert_refused(response, before, statuses=(400,))
    assert "not a Stripe event" in response.json()["error"]


@pytest.mark.parametrize("body", [b"[]", b"5", b"{}", b'{"signature": []}'])
def test_regression_replies_json_bodies_are_415(configured, body):
    before = row_counts()
    response = post_raw("/webhooks/replies/", body)
    assert_refused(response, before, statuses=(415,))
    assert "form post" in response.json()["error"]


def test_regression_replies_non_ascii_token_is_401(configured):
    fields = mailgun_signed({"body-mime": "Subject: hi\n\nhello"})
    fields["token"] = "tökén"
    before = row_counts()
    response = Client().post("/webhooks/replies/", fields)
    assert_refused(response, before, statuses=(401,))


# --- text PostgreSQL cannot store, and JSON nested too deep ------------------------------------
# Accepted with a 200, these used to fail on every processing retry, so the lead never arrived.

UNSTORABLE = ["\x00", "Ada\x00Lovelace", "\ud800", "x\udfffy"]


@pytest.mark.parametrize("value", UNSTORABLE)
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (lambda v: {"email": "ada@example.com", "name": v}, "'name'"),
        (lambda v: {"contact": {"email": "ada@example.com", "company": v}}, "'contact.company'"),
        (lambda v: {"email": "ada@example.com", "tags": ["ok", v]}, "'tags[1]'"),
        (lambda v: {"email": "ada@example.com", v: "key"}, "A key"),
    ],
)
def test_lead_webhook_unstorable_text_is_400_naming_the_field(configured, value, payload, field):
    body = json.dumps(payload(value)).encode()
    before = row_counts()
    response = post_raw("/webhooks/leads/website/", body, {"X-Signature": hmac_sha256_hex(LEAD_SECRET, body)})
    assert_refused(response, before, statuses=(400,))
    assert field in response.json()["error"]


@FUZZ
@given(
    field=st.sampled_from(["name", "email", "phone", "company", "id", "note"]),
    value=st.builds(
        lambda a, bad, b: a + bad + b,
        st.text(max_size=8),
        st.sampled_from(["\x00", "\ud800", "\udbff", "\udc00", "\udfff"]),
        st.text(max_size=8),
    ),
)
def test_lead_webhook_any_unstorable_text_is_400(configured, field, value):
    payload = {"email": "ada@example.com", "phone": "+1 415 555 0100", field: value}
    body = json.dumps(payload).encode()
    before = row_counts()
    response = post_raw("/webhooks/leads/website/", body, {"X-Signature": hmac_sha256_hex(LEAD_SECRET, body)})
    assert_refused(response, before, statuses=(400,))
    assert f"'{field}'" in response.json()["error"]


@pytest.mark.parametrize(
    ("path", "header", "secret", "payload"),
    [
        ("/webhooks/fireflies/", "X-Hub-Signature", FIREFLIES_SECRET, {"meeting_id": "m\x001", "event": "x"}),
        (
            "/webhooks/meet/participant-joined/",
            "X-Signature",
            LEAD_SECRET,
            {"meeting_link": "https://meet.google.com/abc", "participants": [], "title": "\ud83d"},
        ),
    ],
)
def test_other_json_webhooks_refuse_unstorable_text(configured, path, header, secret, payload):
    body = json.dumps(payload).encode()
    before = row_counts()
    response = post_raw(path, body, {header: "sha256=" + hmac_sha256_hex(secret, body)})
    assert_refused(response, before, statuses=(400,))


def test_stripe_event_with_unstorable_text_is_400(configured):
    body = json.dumps(
        {"id": "evt_nul", "object": "event", "type": "charge.refunded", "data": {"object": {"id": "ch_\x00"}}}
    ).encode()
    before = row_counts()
    response = post_raw("/webhooks/stripe/", body, {"Stripe-Signature": stripe_header(body)})
    assert_refused(response, before, statuses=(400,))
    assert "'data.object.id'" in response.json()["error"]


def deep(levels: int, kind: str) -> bytes:
    inner = b"1"
    if kind == "list":
        return b"[" * levels + inner + b"]" * levels
    return b'{"a":' * levels + inner + b"}" * levels


DEEP_CASES = [(levels, kind) for levels in (65, 5_000, 30_000) for kind in ("list", "object")]


@pytest.mark.parametrize(("levels", "kind"), DEEP_CASES)
@pytest.mark.parametrize(("path", "header", "secret"), HMAC_WEBHOOKS)
def test_json_nested_too_deep_is_400(configured, path, header, secret, levels, kind):
    nested = deep(levels, kind)
    body = b'{"email": "ada@example.com", "meeting_id": "m1", "event": "meeting.transcribed", "x": ' + nested + b"}"
    before = row_counts()
    response = post_raw(path, body, {header: "sha256=" + hmac_sha256_hex(secret, body)})
    assert_refused(response, before, statuses=(400,))
    assert "nested" in response.json()["error"]


@pytest.mark.parametrize(("levels", "kind"), DEEP_CASES)
def test_stripe_json_nested_too_deep_is_400(configured, levels, kind):
    body = b'{"id": "evt_deep", "object": "event", "type": "charge.refunded", "data": ' + deep(levels, kind) + b"}"
    before = row_counts()
    response = post_raw("/webhooks/stripe/", body, {"Stripe-Signature": stripe_header(body)})
    assert_refused(response, before, statuses=(400,))
    assert "nested" in response.json()["error"]


def test_ordinary_nesting_is_still_accepted(configured):
    body = json.dumps({"email": "ada@example.com", "meta": {"a": [{"b": {"c": [1, 2]}}]}}).encode()
    response = post_raw("/webhooks/leads/website/", body, {"X-Signature": hmac_sha256_hex(LEAD_SECRET, body)})
    assert response.status_code == 200, response.content
