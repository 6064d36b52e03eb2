"""The signed proposal as a PDF (WeasyPrint): exactly what the signer saw, and the evidence.

The document part is the HTML stored on the `Signature` at signing time (never a re-rendering),
followed by the signature record: who, when (UTC and the agency's zone), from which address,
and the SHA-256 of the signed content. The same bytes are attached to the confirmation email
and served at `/p/<token>/pdf/`.

WeasyPrint fetches nothing from the network here: the only resource it may load is the logo file
from MEDIA_ROOT (https://doc.courtbouillon.org/weasyprint/stable/common_use_cases.html#url-fetchers).
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.core import mail
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from billing.models import Signature
from billing.services.documents import content_sha256
from billing.services.links import proposal_link_url
from clientsflow.audit import audit_record
from clientsflow.branding import Branding, public_branding
from clientsflow.site import site_settings
from outreach.services.gate import mail_gate_check

logger = logging.getLogger(__name__)


class ResourceRefused(ValueError):
    """WeasyPrint asked for something other than the logo."""


def signed_pdf_filename(signature: Signature) -> str:
    return f"proposal-{signature.proposal.pk}-v{signature.proposal.version}-signed.pdf"


# WeasyPrint is imported on the first PDF, not at start-up: its import costs half a second of CPU
# that every process (web workers, Celery, each management command) would pay for nothing.
@cache
def _logo_only_fetcher_class() -> type:
    from weasyprint import URLFetcher

    class LogoOnlyFetcher(URLFetcher):
        """Loads the logo file and nothing else (no network, no other file)."""

        def __init__(self, allowed: str | None) -> None:
            super().__init__(allowed_protocols={"file"})
            self.allowed = allowed

        def fetch(self, url: str, headers: Any = None) -> Any:
            if self.allowed and url == self.allowed:
                return super().fetch(url, headers)
            raise ResourceRefused(f"not loaded in a signed PDF: {url[:80]}")

    return LogoOnlyFetcher


def logo_only_fetcher(allowed: str | None) -> Any:
    """A WeasyPrint URL fetcher that loads `allowed` (the logo's file URL) and refuses the rest."""
    return _logo_only_fetcher_class()(allowed)


def _fetcher(branding: Branding) -> Any:
    return logo_only_fetcher(branding.logo_path.as_uri() if branding.logo_path else None)


def signed_proposal_pdf(*, signature: Signature) -> bytes:
    """The PDF bytes of a signed proposal with its signature record."""
    proposal = signature.proposal
    branding = public_branding()
    zone_name = settings.OWNER_TIMEZONE
    html = render_to_string(
        "billing/signed_pdf.html",
        {
            "proposal": proposal,
            "signature": signature,
            "document": mark_safe(signature.content),  # noqa: S308  (what the signer saw, rendered by us)
            "intact": content_sha256(signature.content) == signature.content_sha256,
            "brand": branding,
            "logo_uri": branding.logo_path.as_uri() if branding.logo_path else "",
            "signed_at_utc": signature.signed_at.astimezone(ZoneInfo("UTC")),
            "signed_at_local": signature.signed_at.astimezone(ZoneInfo(zone_name)),
            "zone_name": zone_name,
        },
    )
    from weasyprint import HTML  # on first use: see _logo_only_fetcher_class

    document = HTML(string=html, url_fetcher=_fetcher(branding), base_url="file:///nonexistent/")
    return bytes(document.write_pdf())


def signature_confirmation_send(*, signature_id: int) -> str:
    """Email the signer their signed copy (PDF attached), through the mail gate; audited.

    Returns 'sent', the gate's refusal ('allowlist', 'suppressed', 'no_address') or 'failed: ...'.
    """
    signature = Signature.objects.select_related("proposal__lead").get(pk=signature_id)
    proposal = signature.proposal
    to = signature.signer_email
    verdict = mail_gate_check(to=to, purpose="billing:signed-copy", obj=proposal, lead_id=proposal.lead_id)
    if not verdict.allowed:
        return verdict.reason
    row = site_settings()
    lines = [
        f"Hello {signature.signer_name},",
        f"Thank you for signing “{proposal.title}”. Your signed copy is attached as a PDF, with the "
        "signature record (time, address and a fingerprint of the exact text you signed).",
        f"You can also open it any time from the proposal page: {proposal_link_url(proposal=proposal)}",
    ]
    if row.signature.strip():
        lines.append(row.signature.strip())
    message = mail.EmailMessage(
        subject=f"Your signed proposal: {proposal.title}",
        body="\n\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    try:
        message.attach(signed_pdf_filename(signature), signed_proposal_pdf(signature=signature), "application/pdf")
        message.send()
    except Exception as exc:  # the PDF renderer or any mail backend
        logger.warning("proposal.signed_copy_failed", extra={"proposal_id": proposal.pk, "error": type(exc).__name__})
        audit_record(
            verb="proposal.signed_copy_failed",
            obj=proposal,
            details={"signature_id": signature.pk, "error_type": type(exc).__name__},
        )
        return f"failed: {type(exc).__name__}"
    audit_record(
        verb="proposal.signed_copy_sent",
        obj=proposal,
        details={"signature_id": signature.pk, "sha256": signature.content_sha256},
    )
    return "sent"


@shared_task(base=DjangoTask, name="billing.tasks.signature_confirmation_send_task", acks_late=True)
def signature_confirmation_send_task(signature_id: int) -> None:
    signature_confirmation_send(signature_id=signature_id)
