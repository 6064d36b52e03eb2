"""Proposal writes: create, revise (new version), send through the outbound gate, view, sign,
decline, expire."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from billing import money
from billing.models import BillingEventKind, Proposal, ProposalLine, Signature, new_link_key
from billing.services.documents import content_sha256, proposal_document_html
from billing.services.links import proposal_link_url
from billing.services.signed_pdf import signature_confirmation_send_task
from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump
from clientsflow.errors import DomainError, InvalidInput
from clientsflow.notify import owner_notify
from clientsflow.site import lead_signature
from leads.models import Lead, Stage
from leads.services.owner_edits import lead_value_set
from leads.services.stages import lead_advance_stage
from leads.services.timeline import timeline_record
from outreach.services.review import outbound_draft_create

logger = logging.getLogger(__name__)

CONSENT_TEXT = (
    "I have read this proposal and agree to its terms. Typing my name and pressing Sign is my electronic signature."
)
OUTBOUND_KIND = "proposal"


@dataclass(frozen=True)
class LineData:
    description: str
    quantity: Decimal
    unit_price_minor: int

    @classmethod
    def build(cls, *, description: Any, quantity: Any, unit_price_minor: Any) -> LineData:
        text = " ".join(str(description or "").split())
        if not text:
            raise InvalidInput("Every line needs a description.")
        try:
            qty = Decimal(str(quantity))
        except InvalidOperation:
            raise InvalidInput(f"{quantity!r} is not a quantity: type a number such as 1 or 2.5.") from None
        if not qty.is_finite() or qty < 0 or qty != qty.quantize(Decimal("0.01")):
            raise InvalidInput("A quantity must be zero or more, with at most two decimals.")
        if not isinstance(unit_price_minor, int) or unit_price_minor < 0:
            raise InvalidInput("A unit price must be zero or more.")
        return cls(description=text[:500], quantity=qty, unit_price_minor=unit_price_minor)


def owner_today() -> date:
    return timezone.now().astimezone(ZoneInfo(settings.OWNER_TIMEZONE)).date()


def proposal_total(lines: list[ProposalLine] | list[LineData]) -> int:
    return sum(money.line_total(quantity=line.quantity, unit_price_minor=line.unit_price_minor) for line in lines)


def check_proposal_editable(*, proposal: Proposal) -> None:
    if proposal.status != Proposal.Status.DRAFT:
        if proposal.status in (Proposal.Status.SIGNED, Proposal.Status.PAID):
            raise DomainError("A signed proposal cannot be changed.")
        raise DomainError("This version was already sent: create a new version to change it.")
    if proposal.send_requested_at:
        raise DomainError("This version is waiting for its email to be approved: create a new version to change it.")


def check_proposal_create(*, lead: Lead, title: str, currency: str, deposit_percent: int | None) -> None:
    """Refuse, with what to do instead, a proposal that `proposal_create` would not make."""
    if lead.merged_into_id:
        raise DomainError("This lead was merged into another; create the proposal for that one.")
    if not title.strip():
        raise InvalidInput("Give the proposal a title.")
    money.check_currency(currency)
    if deposit_percent is not None and not 1 <= deposit_percent <= 100:
        raise InvalidInput("A deposit is between 1 and 100 percent (leave it empty to charge the whole total).")


@transaction.atomic
def proposal_create(
    *,
    lead: Lead,
    title: str,
    currency: str,
    valid_until: date,
    lines: list[LineData],
    deposit_percent: int | None = None,
    introduction: str = "",
    terms: str = "",
    actor: Any = None,
) -> Proposal:
    check_proposal_create(lead=lead, title=title, currency=currency, deposit_percent=deposit_percent)
    proposal = Proposal.objects.create(
        lead=lead,
        title=title.strip()[:200],
        currency=money.check_currency(currency),
        valid_until=valid_until,
        deposit_percent=deposit_percent,
        introduction=introduction,
        terms=terms,
        total_minor=proposal_total(lines),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    ProposalLine.objects.bulk_create(
        ProposalLine(
            proposal=proposal,
            position=i,
            description=line.description,
            quantity=line.quantity,
            unit_price_minor=line.unit_price_minor,
        )
        for i, line in enumerate(lines)
    )
    audit_record(verb="proposal.created", obj=proposal, actor=actor, details={"total_minor": proposal.total_minor})
    return proposal


@transaction.atomic
def proposal_totals_refresh(*, proposal: Proposal) -> Proposal:
    """Recompute the stored total from the lines (after a draft's lines were edited)."""
    locked = Proposal.objects.select_for_update().get(pk=proposal.pk)
    check_proposal_editable(proposal=locked)
    locked.total_minor = proposal_total(list(locked.lines.all()))
    locked.save(update_fields=["total_minor", "updated_at"])
    proposal.total_minor = locked.total_minor
    return locked


@transaction.atomic
def proposal_revise(*, proposal: Proposal, actor: Any = None) -> Proposal:
    """A new draft version copying this one. The old version stays valid until the new one is sent."""
    locked = Proposal.objects.select_for_update().get(pk=proposal.pk)
    if locked.status in (Proposal.Status.SIGNED, Proposal.Status.PAID):
        raise DomainError("A signed proposal cannot be changed; create a new proposal for new work.")
    if locked.status == Proposal.Status.DRAFT and not locked.send_requested_at:
        raise DomainError("This version is still a draft: edit it directly.")
    latest = Proposal.objects.filter(family=locked.family).order_by("-version").first()
    if latest is not None and latest.pk != locked.pk:
        raise DomainError(f"Version {latest.version} already exists: edit that one.")
    new = Proposal.objects.create(
        lead=locked.lead,
        family=locked.family,
        version=locked.version + 1,
        title=locked.title,
        introduction=locked.introduction,
        terms=locked.terms,
        currency=locked.currency,
        deposit_percent=locked.deposit_percent,
        valid_until=max(locked.valid_until, owner_today()),
        total_minor=locked.total_minor,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    ProposalLine.objects.bulk_create(
        ProposalLine(
            proposal=new,
            position=line.position,
            description=line.description,
            quantity=line.quantity,
            unit_price_minor=line.unit_price_minor,
        )
        for line in locked.lines.all()
    )
    audit_record(verb="proposal.revised", obj=new, actor=actor, details={"from_version": locked.version})
    return new


def proposal_email(*, proposal: Proposal) -> tuple[str, str]:
    """Subject and body of the email carrying the link (what the approver reviews)."""
    lead = proposal.lead
    greeting = f"Hi {lead.name.split()[0]}," if lead.name.strip() else "Hello,"
    lines = "\n".join(f"- {line.description}: {proposal.money(line.total_minor)}" for line in proposal.lines.all())
    due_now, balance = proposal.amounts
    payment = (
        f"A deposit of {proposal.money(due_now)} is due on signing; the balance of {proposal.money(balance)} later."
        if balance
        else f"The total of {proposal.money(due_now)} is due on signing."
    )
    body = (
        f"{greeting}\n\n"
        f"Here is our proposal: {proposal.title}"
        + (f" (version {proposal.version})" if proposal.version > 1 else "")
        + f".\n\n{lines}\n\nTotal: {proposal.money(proposal.total_minor)}. {payment}\n\n"
        f"Read it and sign online (valid until {proposal.valid_until:%B %-d, %Y}):\n"
        f"{proposal_link_url(proposal=proposal)}\n\n"
        "Reply to this email with any question.\n\n" + lead_signature()
    )
    return f"Your proposal: {proposal.title}", body


@transaction.atomic
def proposal_send(*, proposal: Proposal, actor: Any = None) -> Any:
    """Queue the proposal's email for approval in the outbound gate; nothing is sent here.

    The proposal becomes `sent` when that message is actually sent (`proposal_mark_sent`).
    Returns the outbound message.
    """
    locked = Proposal.objects.select_for_update().select_related("lead").get(pk=proposal.pk)
    check_proposal_editable(proposal=locked)
    if not locked.lines.exists() or locked.total_minor <= 0:
        raise InvalidInput("Add at least one line with a price before sending.")
    if locked.valid_until < owner_today():
        raise InvalidInput("The valid-until date has passed: set a later date before sending.")
    if not locked.lead.email:
        raise InvalidInput("This lead has no email address: add one before sending the proposal.")
    if locked.lead.merged_into_id:
        raise DomainError("This lead was merged into another; send the proposal to that one.")
    subject, body = proposal_email(proposal=locked)
    message = outbound_draft_create(
        lead=locked.lead, subject=subject, body=body, origin=locked.origin, kind=OUTBOUND_KIND
    )
    locked.send_requested_at = timezone.now()
    locked.outbound_message_id = getattr(message, "pk", None)
    locked.save(update_fields=["send_requested_at", "outbound_message_id", "updated_at"])
    audit_record(
        verb="proposal.send_requested",
        obj=locked,
        actor=actor,
        details={"outbound_message_id": locked.outbound_message_id, "version": locked.version},
    )
    board_version_bump()
    proposal.send_requested_at, proposal.outbound_message_id = locked.send_requested_at, locked.outbound_message_id
    return message


@transaction.atomic
def proposal_mark_sent(*, proposal: Proposal, sent_at: datetime | None = None, via: str = "outbound") -> bool:
    """Record that the proposal's email went out. Idempotent; returns whether anything changed.

    Earlier unsigned versions of the same proposal stop working (their link says it was replaced).
    """
    locked = Proposal.objects.select_for_update().select_related("lead").get(pk=proposal.pk)
    if locked.status != Proposal.Status.DRAFT:
        return False
    locked.status = Proposal.Status.SENT
    locked.sent_at = sent_at or timezone.now()
    locked.send_requested_at = locked.send_requested_at or locked.sent_at
    locked.save(update_fields=["status", "sent_at", "send_requested_at", "updated_at"])
    replaced = (
        Proposal.objects.filter(family=locked.family, version__lt=locked.version, revoked_at__isnull=True)
        .exclude(status__in=[Proposal.Status.SIGNED, Proposal.Status.PAID])
        .update(revoked_at=locked.sent_at, superseded_by=locked, updated_at=timezone.now())
    )
    lead_advance_stage(
        lead=locked.lead, to_stage=Stage.PROPOSAL_SENT, actor_label="billing", reason=f"Proposal sent: {locked}"
    )
    # The deal is now worth what was proposed, unless a person has set its value by hand.
    lead_value_set(lead=locked.lead, amount_minor=locked.total_minor, currency=locked.currency, by_staff=False)
    timeline_record(
        lead=locked.lead,
        kind=BillingEventKind.PROPOSAL,
        summary=f"Proposal sent: {locked}",
        data={"proposal_id": locked.pk, "version": locked.version},
    )
    audit_record(
        verb="proposal.sent", obj=locked, actor_label=via, details={"version": locked.version, "replaced": replaced}
    )
    board_version_bump()
    proposal.status, proposal.sent_at = locked.status, locked.sent_at
    return True


def proposal_record_view(*, proposal: Proposal) -> bool:
    """The first view by the lead: `sent -> viewed` once, with the time. Later views change nothing."""
    now = timezone.now()
    with transaction.atomic():
        changed = Proposal.objects.filter(pk=proposal.pk, status=Proposal.Status.SENT, viewed_at__isnull=True).update(
            status=Proposal.Status.VIEWED, viewed_at=now, updated_at=now
        )
        if changed:
            timeline_record(
                lead=proposal.lead,
                kind=BillingEventKind.PROPOSAL,
                summary=f"Proposal viewed: {proposal}",
                data={"proposal_id": proposal.pk},
            )
            audit_record(verb="proposal.viewed", obj=proposal, actor_label="lead")
            board_version_bump()
            lead = proposal.lead
            owner_notify(
                kind="proposal_viewed",
                key=f"proposal_viewed:{proposal.pk}",
                subject=f"Proposal opened: {lead.name or lead.email}",
                text=f"{lead.name or lead.email} opened the proposal {proposal}.",
                link=reverse("board:lead-detail", args=[lead.public_id]),
            )
    if changed:
        proposal.status, proposal.viewed_at = Proposal.Status.VIEWED, now
    return bool(changed)


@transaction.atomic
def proposal_sign(
    *,
    proposal: Proposal,
    signer_name: str,
    signer_email: str,
    consent: bool,
    shown_sha256: str,
    ip_address: str | None,
    user_agent: str,
) -> Signature:
    """Sign the version the lead read. Refused if the content changed since it was shown."""
    locked = Proposal.objects.select_for_update().select_related("lead").get(pk=proposal.pk)
    if locked.status in (Proposal.Status.SIGNED, Proposal.Status.PAID):
        raise DomainError("This proposal is already signed.")
    if not locked.is_open_for_signature:
        raise DomainError("This proposal can no longer be signed; reply to the email to ask for a current one.")
    if locked.valid_until < owner_today():
        raise DomainError("This proposal has expired; reply to the email to ask for an updated one.")
    name = " ".join((signer_name or "").split())
    if len(name) < 2:
        raise InvalidInput("Type your full name to sign.")
    email = (signer_email or "").strip()
    if "@" not in email:
        raise InvalidInput("Enter the email address you can be reached at.")
    if not consent:
        raise InvalidInput("Tick the box to confirm you agree before signing.")
    content = proposal_document_html(proposal=locked)
    digest = content_sha256(content)
    if digest != (shown_sha256 or "").strip().lower():
        raise DomainError("The proposal changed since you opened it: reload the page, read it again, then sign.")
    now = timezone.now()
    signature = Signature.objects.create(
        proposal=locked,
        signer_name=name[:200],
        signer_email=email[:254],
        consent_text=CONSENT_TEXT,
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:1000],
        signed_at=now,
        content_sha256=digest,
        content=content,
    )
    locked.status = Proposal.Status.SIGNED
    locked.signed_at = now
    locked.viewed_at = locked.viewed_at or now
    locked.save(update_fields=["status", "signed_at", "viewed_at", "updated_at"])
    lead_advance_stage(
        lead=locked.lead, to_stage=Stage.SIGNED, actor_label="billing", reason=f"Proposal signed: {locked}"
    )
    timeline_record(
        lead=locked.lead,
        kind=BillingEventKind.PROPOSAL,
        summary=f"Proposal signed by {name}: {locked}",
        data={"proposal_id": locked.pk, "sha256": digest},
    )
    audit_record(
        verb="proposal.signed",
        obj=locked,
        actor_label=f"signer:{name}"[:100],
        details={"sha256": digest, "version": locked.version, "signature_id": signature.pk},
    )
    board_version_bump()
    # The signer's copy (PDF) goes out once the signature is committed.
    signature_confirmation_send_task.delay_on_commit(signature.pk)
    owner_notify(
        kind="proposal_signed",
        key=f"proposal_signed:{locked.pk}",
        subject=f"Proposal signed: {locked.lead.name or name}",
        text=f"{name} signed {locked} ({money.format_money(locked.total_minor, locked.currency)}).",
        link=reverse("board:lead-detail", args=[locked.lead.public_id]),
    )
    proposal.status, proposal.signed_at = locked.status, locked.signed_at
    return signature


@transaction.atomic
def proposal_decline(*, proposal: Proposal, actor: Any = None, reason: str = "") -> Proposal:
    locked = Proposal.objects.select_for_update().select_related("lead").get(pk=proposal.pk)
    if locked.status not in (Proposal.Status.SENT, Proposal.Status.VIEWED):
        raise DomainError(f"Only a sent proposal can be declined; this one is {locked.get_status_display().lower()}.")
    locked.status = Proposal.Status.DECLINED
    locked.declined_at = timezone.now()
    locked.save(update_fields=["status", "declined_at", "updated_at"])
    timeline_record(
        lead=locked.lead,
        kind=BillingEventKind.PROPOSAL,
        summary=f"Proposal declined: {locked}",
        data={"proposal_id": locked.pk, "reason": reason[:255]},
    )
    audit_record(verb="proposal.declined", obj=locked, actor=actor, details={"reason": reason[:255]})
    board_version_bump()
    return locked


@transaction.atomic
def proposal_revoke_link(*, proposal: Proposal, actor: Any = None) -> Proposal:
    """Kill every link sent for this version (e.g. sent to the wrong person)."""
    locked = Proposal.objects.select_for_update().get(pk=proposal.pk)
    if locked.status in (Proposal.Status.SIGNED, Proposal.Status.PAID):
        raise DomainError("A signed proposal's link stays valid so the client can keep their copy.")
    locked.revoked_at = timezone.now()
    locked.link_key = new_link_key()
    locked.save(update_fields=["revoked_at", "link_key", "updated_at"])
    audit_record(verb="proposal.link_revoked", obj=locked, actor=actor)
    return locked


def proposals_expire_due(*, today: date | None = None, limit: int = 500) -> int:
    """Sent or viewed proposals past their valid-until date become `expired`."""
    today = today or owner_today()
    ids = list(
        Proposal.objects.filter(
            status__in=[Proposal.Status.SENT, Proposal.Status.VIEWED], valid_until__lt=today
        ).values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for pk in ids:
        with transaction.atomic():
            changed = Proposal.objects.filter(
                pk=pk, status__in=[Proposal.Status.SENT, Proposal.Status.VIEWED], valid_until__lt=today
            ).update(status=Proposal.Status.EXPIRED, updated_at=timezone.now())
            if changed:
                expired += 1
                audit_record(verb="proposal.expired", obj=Proposal.objects.get(pk=pk))
    if expired:
        board_version_bump()
    return expired
