"""POST /webhooks/leads/<source>/: every status, replays, dedup through the real view."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clientsflow.models import AuditEvent, WebhookEvent
from clientsflow.signatures import hmac_sha256_hex
from leads.models import Lead, LeadEvent

pytestmark = pytest.mark.django_db

SECRET = "test-lead-webhook-secret-0123456789"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.LEAD_WEBHOOK_SECRET = SECRET
    settings.GHL_PUBLIC_KEY = ""


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """Post a lead webhook, running what the view queued after commit (the processing task)."""

    def _post(body: bytes, *, source="website", signature: str | None = "auto", **headers):
        if signature == "auto":
            signature = "sha256=" + hmac_sha256_hex(SECRET, body)
        if signature is not None:
            headers["HTTP_X_SIGNATURE"] = signature
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/webhooks/leads/{source}/", data=body, content_type="application/json", **headers)

    return _post


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_signed_delivery_is_stored_processed_and_creates_the_lead(post):
    response = post(fixture("lead_website.json"))

    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "event_id": "form-2041"}
    event = WebhookEvent.objects.get()
    assert (event.provider, event.status, event.attempts) == ("leads:website", "processed", 1)
    lead = Lead.objects.get()
    assert lead.name == "Dana Whitfield"
    assert lead.email_normalized == "dana.whitfield@northwind.example"
    assert lead.phone_e164 == "+14155550134"
    assert lead.company == "Northwind Studio"
    assert lead.source == "website"
    assert lead.external_ids == {"website": "form-2041"}
    assert AuditEvent.objects.filter(verb="lead.created", object_id=str(lead.pk)).exists()


def test_bare_hex_signature_is_accepted(post):
    body = fixture("lead_website.json")
    assert post(body, signature=hmac_sha256_hex(SECRET, body)).status_code == 200


def test_replayed_delivery_is_acknowledged_and_changes_nothing(post):
    body = fixture("lead_website.json")
    first = post(body, HTTP_X_EVENT_ID="evt-1")
    events_after_first = LeadEvent.objects.count()
    audits_after_first = AuditEvent.objects.count()

    replays = [post(body, HTTP_X_EVENT_ID="evt-1") for _ in range(3)]

    assert first.json()["status"] == "accepted"
    assert [r.status_code for r in replays] == [200, 200, 200]
    assert {r.json()["status"] for r in replays} == {"duplicate"}
    assert Lead.objects.count() == 1
    assert WebhookEvent.objects.get().deliveries == 4
    assert LeadEvent.objects.count() == events_after_first
    assert AuditEvent.objects.count() == audits_after_first


def test_delivery_id_falls_back_to_payload_id_then_body_hash(post):
    with_id = json.dumps({"id": 77, "email": "a@example.com"}).encode()
    without_id = json.dumps({"email": "b@example.com"}).encode()

    assert post(with_id).json()["event_id"] == "77"
    assert post(without_id).json()["event_id"] == "sha256:" + hashlib.sha256(without_id).hexdigest()


@pytest.mark.parametrize(
    ("signature", "status"),
    [(None, 401), ("sha256=" + "0" * 64, 401), ("not-hex", 401)],
)
def test_missing_or_wrong_signature_is_401_and_stores_nothing(post, signature, status):
    response = post(fixture("lead_website.json"), signature=signature)

    assert response.status_code == status
    assert "X-Signature" in response.json()["error"]
    assert WebhookEvent.objects.count() == 0
    assert Lead.objects.count() == 0


def test_signature_over_a_different_body_is_refused(post):
    body = fixture("lead_website.json")
    tampered = body.replace(b"Dana", b"Dina")
    response = post(tampered, signature="sha256=" + hmac_sha256_hex(SECRET, body))
    assert response.status_code == 401


def test_unconfigured_secret_fails_closed_with_503(client, settings):
    settings.LEAD_WEBHOOK_SECRET = ""
    body = fixture("lead_website.json")

    response = client.post(
        "/webhooks/leads/website/", data=body, content_type="application/json", HTTP_X_SIGNATURE="sha256=whatever"
    )

    assert response.status_code == 503
    assert "LEAD_WEBHOOK_SECRET" in response.json()["error"]
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"\xff\xfe", "not valid UTF-8"),
        (json.dumps({"name": "No Contact"}).encode(), "needs an email address or a phone number"),
        (json.dumps({"email": "not-an-address"}).encode(), "not a valid email address"),
        (json.dumps({"phone": "12"}).encode(), "not a possible phone number"),
        (json.dumps({"email": "x@example.com", "name": {"first": "x"}}).encode(), "'name' must be text"),
    ],
)
def test_bad_payloads_get_400_with_a_clear_json_error_and_nothing_written(post, body, message):
    response = post(body)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert WebhookEvent.objects.count() == 0
    assert Lead.objects.count() == 0


def test_body_over_one_megabyte_is_413_before_hashing(post):
    body = json.dumps({"email": "big@example.com", "note": "x" * (1024 * 1024)}).encode()
    response = post(body, signature="sha256=" + "0" * 64)

    assert response.status_code == 413
    assert WebhookEvent.objects.count() == 0


def test_wrong_method_and_bad_source(client, post):
    assert client.get("/webhooks/leads/website/").status_code == 405
    response = post(fixture("lead_website.json"), source="Bad.Source")
    assert response.status_code == 404


def test_duplicates_by_email_case_and_phone_format_land_on_one_lead(post):
    post(json.dumps({"email": "Sam@Example.com", "name": "Sam"}).encode())
    post(json.dumps({"email": "sam@example.com ", "company": "Acme"}).encode())
    post(json.dumps({"phone": "415.555.0134", "name": "Pat"}).encode())
    post(json.dumps({"phone": "+1 (415) 555-0134", "company": "Pat Co"}).encode())

    assert Lead.objects.count() == 2
    sam = Lead.objects.get(email_normalized="sam@example.com")
    assert sam.company == "Acme"
    pat = Lead.objects.get(phone_e164="+14155550134")
    assert pat.company == "Pat Co"
    assert LeadEvent.objects.filter(kind=LeadEvent.Kind.DUPLICATE_INTAKE).count() == 2


# --- GoHighLevel: Ed25519 over the raw body -------------------------------------------------


@pytest.fixture
def ghl_key(settings):
    private = Ed25519PrivateKey.generate()
    settings.GHL_PUBLIC_KEY = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private


@pytest.fixture
def ghl_post(client, django_capture_on_commit_callbacks):
    def _post(body: bytes, signature: str | None):
        headers = {"HTTP_X_GHL_SIGNATURE": signature} if signature is not None else {}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/webhooks/leads/ghl/", data=body, content_type="application/json", **headers)

    return _post


def test_ghl_delivery_signed_with_ed25519_is_accepted(ghl_post, ghl_key):
    body = fixture("lead_ghl_contact.json")
    signature = base64.b64encode(ghl_key.sign(body)).decode()

    response = ghl_post(body, signature)

    assert response.status_code == 200
    lead = Lead.objects.get()
    assert (lead.name, lead.company, lead.source) == ("Marta Quiroga", "Quiroga Legal", "ghl")
    assert lead.phone_e164 == "+34612345678"
    assert lead.external_ids == {"ghl": "nmFmQEsNgz6AVpgLVUJ0"}


def test_ghl_signature_from_another_key_is_401(ghl_post, ghl_key):
    body = fixture("lead_ghl_contact.json")
    other = base64.b64encode(Ed25519PrivateKey.generate().sign(body)).decode()

    assert ghl_post(body, other).status_code == 401
    assert ghl_post(body, None).status_code == 401
    assert Lead.objects.count() == 0


def test_ghl_without_a_public_key_fails_closed(ghl_post, settings):
    settings.GHL_PUBLIC_KEY = ""
    response = ghl_post(fixture("lead_ghl_contact.json"), "c2lnbmF0dXJl")
    assert response.status_code == 503
    assert "GHL_PUBLIC_KEY" in response.json()["error"]
