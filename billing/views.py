"""The lead's side: `/p/<token>/` to read, sign and pay a proposal; Stripe's success/cancel pages.

Every problem with a link (bad, expired, revoked, replaced) renders a page saying what to do next,
never a 500. Staff opening a link see a preview; their visits are not recorded as the lead's.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.decorators import ratelimit

from billing.clients import stripe as stripe_client
from billing.models import Payment, Proposal
from billing.services.documents import content_sha256, proposal_document_html
from billing.services.links import LinkProblem, proposal_from_token
from billing.services.outbound_sync import proposal_outbound_sync
from billing.services.payments import PaymentsUnavailable, payment_apply_session, payment_checkout_start
from billing.services.proposals import CONSENT_TEXT, owner_today, proposal_record_view, proposal_sign
from billing.services.signed_pdf import signed_pdf_filename, signed_proposal_pdf
from clientsflow.branding import public_branding
from clientsflow.errors import DomainError
from clientsflow.site import site_settings

logger = logging.getLogger(__name__)

RATE_LIMITED_MESSAGE = "Too many attempts from your connection. Please wait a minute and try again."

LINK_PROBLEMS = {
    "bad": (
        404,
        "This link does not work",
        "The link is incomplete or was mistyped. Open it again from the email, or reply to that email and we will send a new one.",
    ),
    "expired": (
        410,
        "This link has expired",
        "For your security, proposal links stop working after a while. Reply to the proposal email and we will send you a fresh link.",
    ),
    "revoked": (
        410,
        "This link was withdrawn",
        "This proposal link is no longer active. Reply to the proposal email if you still need it.",
    ),
    "replaced": (
        410,
        "This proposal was updated",
        "A newer version of this proposal was sent to you. Open the link in the most recent email to read and sign it.",
    ),
}


def _sender_name() -> str:
    """Who the proposal is from, as the lead knows them: the sender's name, else the agency."""
    row = site_settings()
    return (row.owner_name or row.sender_name or row.agency_name).strip()


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    """Render a page the lead sees, with the agency's branding."""
    return render(request, template, {"brand": public_branding(), **context}, status=status)


def _problem(request: HttpRequest, kind: str) -> HttpResponse:
    status, title, text = LINK_PROBLEMS[kind]
    return _render(request, "billing/link_problem.html", {"title": title, "text": text}, status=status)


def _load(request: HttpRequest, token: str) -> Proposal | HttpResponse:
    try:
        proposal = proposal_from_token(token=token)
    except LinkProblem as problem:
        return _problem(request, problem.kind)
    if proposal.status == Proposal.Status.DRAFT and proposal.send_requested_at:
        proposal_outbound_sync(proposal=proposal)
    if proposal.status == Proposal.Status.DRAFT and not request.user.is_staff:
        return _problem(request, "bad")  # a draft's link reaches nobody but staff
    return proposal


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _page(
    request: HttpRequest,
    proposal: Proposal,
    token: str,
    *,
    error: str = "",
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    content = proposal_document_html(proposal=proposal)
    expired = proposal.status == Proposal.Status.EXPIRED or (
        proposal.is_open_for_signature and proposal.valid_until < owner_today()
    )
    latest_payment = proposal.payments.order_by("-created_at").first()
    return _render(
        request,
        "billing/proposal.html",
        {
            "proposal": proposal,
            "token": token,
            "document": mark_safe(content),  # noqa: S308  (our own template's output, escaped there)
            "content_sha256": content_sha256(content),
            "can_sign": proposal.is_open_for_signature and not expired,
            "expired": expired,
            "consent_text": CONSENT_TEXT,
            "preview": request.user.is_staff and proposal.status == Proposal.Status.DRAFT,
            "signature": getattr(proposal, "signature", None) if proposal.signed_at else None,
            "payment": latest_payment,
            "payments_enabled": stripe_client.enabled(),
            "sender_name": _sender_name(),
            "error": error,
            "form": form or {"full_name": "", "email": proposal.lead.email},
        },
        status=status,
    )


@require_GET
def proposal_page(request: HttpRequest, token: str) -> HttpResponse:
    proposal = _load(request, token)
    if isinstance(proposal, HttpResponse):
        return proposal
    if not request.user.is_staff and proposal.status == Proposal.Status.SENT:
        proposal_record_view(proposal=proposal)
    return _page(request, proposal, token)


def _sign_rate(group: str, request: HttpRequest) -> str:
    return settings.PROPOSAL_SIGN_RATE_LIMIT


@require_POST
@ratelimit(key="ip", rate=_sign_rate, method="POST", block=False, group="billing.sign")
def proposal_sign_view(request: HttpRequest, token: str) -> HttpResponse:
    proposal = _load(request, token)
    if isinstance(proposal, HttpResponse):
        return proposal
    form = {"full_name": request.POST.get("full_name", ""), "email": request.POST.get("email", "")}
    if getattr(request, "limited", False):
        return _page(request, proposal, token, error=RATE_LIMITED_MESSAGE, form=form, status=429)
    try:
        proposal_sign(
            proposal=proposal,
            signer_name=form["full_name"],
            signer_email=form["email"],
            consent=request.POST.get("consent") == "yes",
            shown_sha256=request.POST.get("content_sha256", ""),
            ip_address=_client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except DomainError as exc:
        proposal.refresh_from_db()
        return _page(request, proposal, token, error=str(exc), form=form, status=400)
    return redirect(reverse("billing:proposal", kwargs={"token": token}) + "#signed", permanent=False)


@require_GET
def proposal_signed_copy(request: HttpRequest, token: str) -> HttpResponse:
    proposal = _load(request, token)
    if isinstance(proposal, HttpResponse):
        return proposal
    signature = getattr(proposal, "signature", None) if proposal.signed_at else None
    if signature is None:
        return _render(
            request,
            "billing/link_problem.html",
            {"title": "Not signed yet", "text": "There is no signed copy until the proposal is signed.", "back": token},
            status=404,
        )
    return _render(
        request,
        "billing/signed_copy.html",
        {
            "proposal": proposal,
            "signature": signature,
            "document": mark_safe(signature.content),  # noqa: S308  (what the signer saw, rendered by us)
            "intact": content_sha256(signature.content) == signature.content_sha256,
        },
    )


@require_GET
def proposal_signed_pdf(request: HttpRequest, token: str) -> HttpResponse:
    """The signed proposal as a PDF with its signature record; a page saying why when unsigned."""
    proposal = _load(request, token)
    if isinstance(proposal, HttpResponse):
        return proposal
    signature = getattr(proposal, "signature", None) if proposal.signed_at else None
    if signature is None:
        return _render(
            request,
            "billing/link_problem.html",
            {
                "title": "Not signed yet",
                "text": "The PDF is made once the proposal is signed.",
                "back": token,
            },
            status=404,
        )
    response = HttpResponse(signed_proposal_pdf(signature=signature), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{signed_pdf_filename(signature)}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
def proposal_pay(request: HttpRequest, token: str) -> HttpResponse:
    proposal = _load(request, token)
    if isinstance(proposal, HttpResponse):
        return proposal
    base = request.build_absolute_uri(reverse("billing:payment-success", kwargs={"token": token}))
    cancel = request.build_absolute_uri(reverse("billing:payment-cancelled", kwargs={"token": token}))
    try:
        url = payment_checkout_start(
            proposal=proposal, success_url=base + "?session_id={CHECKOUT_SESSION_ID}", cancel_url=cancel
        )
    except (PaymentsUnavailable, DomainError) as exc:
        return _page(
            request, proposal, token, error=str(exc), status=503 if isinstance(exc, PaymentsUnavailable) else 400
        )
    return redirect(url)


@require_GET
def payment_success(request: HttpRequest, token: str) -> HttpResponse:
    """Stripe sends the payer here. The redirect proves nothing; only Stripe's own record counts,
    so we ask Stripe for the session (when we can) and otherwise wait for the webhook."""
    proposal = _load(request, token)
    if isinstance(proposal, HttpResponse):
        return proposal
    session_id = request.GET.get("session_id", "")
    payment = Payment.objects.filter(proposal=proposal, checkout_session_id=session_id).first()
    if (
        payment is not None
        and stripe_client.enabled()
        and payment.status not in (Payment.Status.PAID, Payment.Status.REFUNDED, Payment.Status.REVIEW)
    ):
        try:
            session = stripe_client.checkout_session_retrieve(session_id)
            payment, _changed = payment_apply_session(session=session, authoritative=True, source="success-page")
        except stripe_client.StripeClientError:
            pass  # the webhook (or the daily reconciliation) will record it
        proposal.refresh_from_db()
    return _render(
        request,
        "billing/payment_result.html",
        {"proposal": proposal, "payment": payment, "token": token, "cancelled": False},
    )


@require_GET
def payment_cancelled(request: HttpRequest, token: str) -> HttpResponse:
    proposal = _load(request, token)
    if isinstance(proposal, HttpResponse):
        return proposal
    return _render(
        request,
        "billing/payment_result.html",
        {"proposal": proposal, "payment": None, "token": token, "cancelled": True},
    )
