"""The signed proposal as a PDF (WeasyPrint): a real PDF with the document and the signature
record, attached to the signer's confirmation email and downloadable from the proposal page."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.test import Client
from pypdf import PdfReader

from billing.models import Signature
from billing.services.documents import content_sha256
from billing.services.links import proposal_link_token
from billing.services.signed_pdf import ResourceRefused, logo_only_fetcher, signed_proposal_pdf
from clientsflow.models import AuditEvent
from tests.billing.conftest import sent_proposal, signed_proposal

pytestmark = pytest.mark.django_db


def url(proposal, suffix: str = "") -> str:
    return f"/p/{proposal_link_token(proposal=proposal)}/{suffix}"


def pdf_text(data: bytes) -> tuple[int, str]:
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return len(reader.pages), " ".join(text.split())


def test_the_pdf_holds_the_document_and_the_signature_record(settings):
    settings.OWNER_TIMEZONE = "America/New_York"
    proposal = signed_proposal()
    signature = Signature.objects.get(proposal=proposal)
    Signature.objects.filter(pk=signature.pk).update(signed_at=datetime(2026, 7, 1, 14, 5, 9, tzinfo=UTC))
    signature.refresh_from_db()
    pages, text = pdf_text(signed_proposal_pdf(signature=signature))
    assert pages >= 1
    assert "Website rebuild" in text and "Discovery workshop" in text and "$1,500.00" in text
    assert "Ada Lovelace" in text and "ada@example.com" in text and "203.0.113.9" in text
    assert "2026-07-01 14:05:09 UTC" in text
    assert "2026-07-01 10:05:09 (America/New_York)" in text  # the agency's zone, DST-aware
    # Long hashes may wrap: compare without whitespace.
    assert signature.content_sha256 in text.replace(" ", "")
    assert "Matches the content above." in text


def test_a_tampered_record_says_so_in_the_pdf():
    proposal = signed_proposal()
    Signature.objects.filter(proposal=proposal).update(content="<p>Something else</p>")
    _, text = pdf_text(signed_proposal_pdf(signature=Signature.objects.get(proposal=proposal)))
    assert "Does NOT match the stored content." in text


def test_the_signer_gets_the_pdf_by_email(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        proposal = signed_proposal()
    signature = Signature.objects.get(proposal=proposal)
    [message] = [m for m in mail.outbox if m.to == ["ada@example.com"]]
    assert message.subject == "Your signed proposal: Website rebuild"
    assert "owner" not in message.body.lower()
    [(filename, data, mimetype)] = message.attachments
    assert filename.endswith("-signed.pdf") and mimetype == "application/pdf"
    _, text = pdf_text(data)
    assert "Ada Lovelace" in text and signature.content_sha256 in text.replace(" ", "")
    assert AuditEvent.objects.filter(verb="proposal.signed_copy_sent").count() == 1


def test_the_mail_gate_holds_the_copy_back(settings, django_capture_on_commit_callbacks):
    settings.SEND_ALLOWLIST = ["*@agency.example"]
    with django_capture_on_commit_callbacks(execute=True):
        signed_proposal()
    assert mail.outbox == []
    assert AuditEvent.objects.filter(verb="mail.blocked").exists()


def test_download_after_signing_only():
    client = Client()
    proposal = sent_proposal()
    refused = client.get(url(proposal, "pdf/"))
    assert refused.status_code == 404 and "Not signed yet" in refused.content.decode()
    page = client.get(url(proposal)).content.decode()
    shown = re.search(r'name="content_sha256" value="([0-9a-f]{64})"', page).group(1)
    client.post(
        url(proposal, "sign/"),
        {"full_name": "Ada Lovelace", "email": "ada@example.com", "consent": "yes", "content_sha256": shown},
    )
    signed_page = client.get(url(proposal)).content.decode()
    assert "Download the signed PDF" in signed_page
    # The link is signed with a timestamp, which can tick between two signings: follow the page's own.
    (pdf_href,) = set(re.findall(r'href="(/p/[^"]+/pdf/)"', signed_page))
    response = client.get(pdf_href)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert (
        response["Content-Disposition"].startswith("attachment; filename=") and "no-store" in response["Cache-Control"]
    )
    _, text = pdf_text(response.content)
    assert content_sha256(Signature.objects.get().content) in text.replace(" ", "")


def test_the_pdf_loads_nothing_from_outside():
    proposal = signed_proposal()
    Signature.objects.filter(proposal=proposal).update(content='<img src="https://tracker.example/x.png"><p>Hi</p>')
    fetcher = logo_only_fetcher(None)
    with pytest.raises(ResourceRefused):
        fetcher.fetch("https://tracker.example/x.png")
    with pytest.raises(ResourceRefused):
        fetcher.fetch("file:///etc/passwd")
    # Rendering still succeeds: the refused image is simply left out.
    assert signed_proposal_pdf(signature=Signature.objects.get(proposal=proposal)).startswith(b"%PDF")


def test_the_page_says_who_it_is_from_and_what_happens_next(client, settings):
    proposal = signed_proposal()
    html = client.get(url(proposal)).content.decode()
    assert 'id="proposal-from"' in html and "Proposal from <strong>" in html
    assert "Next step: we send you the invoice" in html  # Stripe is not configured here
    assert "owner" not in re.sub(r"<[^>]+>", " ", html).lower()


def test_the_logo_from_settings_is_in_the_pdf(settings, tmp_path, django_capture_on_commit_callbacks):
    from django.core.files.base import ContentFile

    from clientsflow.site import site_settings_update

    settings.MEDIA_ROOT = str(tmp_path)
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
        b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    with django_capture_on_commit_callbacks(execute=True):
        site_settings_update(agency_name="Brightline Studio", logo=ContentFile(png, name="logo.png"))
    proposal = signed_proposal()
    data = signed_proposal_pdf(signature=Signature.objects.get(proposal=proposal))
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages[0].images) == 1  # the logo, loaded from MEDIA_ROOT/branding/
    assert "Brightline Studio" in pdf_text(data)[1]
