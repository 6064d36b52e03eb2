"""Proposals (versioned), their line items, the e-signature record and Stripe payments."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from billing import money
from clientsflow.models import TimeStampedModel
from leads.models import TimelineKind


class BillingEventKind(TimelineKind):
    """What billing puts on a lead's timeline."""

    PROPOSAL = "proposal", "Proposal"
    PAYMENT = "payment", "Payment"


def new_link_key() -> str:
    return secrets.token_urlsafe(12)


class Proposal(TimeStampedModel):
    """One version of a proposal. Versions of the same proposal share a `family`.

    Only a draft is edited; changing a proposal that was sent creates the next version (the old
    one's link then says it was replaced). Signed and paid versions never change.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENT = "sent", "Sent"
        VIEWED = "viewed", "Viewed"
        SIGNED = "signed", "Signed"
        PAID = "paid", "Paid"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "Expired"

    lead = models.ForeignKey("leads.Lead", on_delete=models.PROTECT, related_name="proposals")
    family = models.UUIDField(default=uuid.uuid4, db_index=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    title = models.CharField(max_length=200)
    introduction = models.TextField(blank=True, help_text="Shown above the line items.")
    terms = models.TextField(blank=True, help_text="Shown below the total, above the signature.")
    currency = models.CharField(max_length=3, default="USD")
    deposit_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Optional: the share paid online after signing. Empty means the whole total.",
    )
    valid_until = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    total_minor = models.BigIntegerField(verbose_name="total", default=0, editable=False)
    link_key = models.CharField(max_length=32, default=new_link_key, editable=False)
    send_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    outbound_message_id = models.BigIntegerField(verbose_name="proposal email", null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    viewed_at = models.DateTimeField(null=True, blank=True, editable=False)
    signed_at = models.DateTimeField(null=True, blank=True, editable=False)
    paid_at = models.DateTimeField(null=True, blank=True, editable=False)
    declined_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["family", "version"], name="proposal_unique_family_version"),
            models.CheckConstraint(
                condition=Q(deposit_percent__isnull=True) | Q(deposit_percent__gte=1, deposit_percent__lte=100),
                name="proposal_deposit_percent_range",
            ),
            models.CheckConstraint(condition=Q(total_minor__gte=0), name="proposal_total_not_negative"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version})"

    @property
    def origin(self) -> str:
        """The outbound message origin for sending this version (the outbound gate's key)."""
        return f"proposal:{self.pk}:v{self.version}"

    @property
    def amounts(self) -> tuple[int, int]:
        return money.deposit_split(self.total_minor, self.deposit_percent)

    @property
    def due_now_minor(self) -> int:
        return self.amounts[0]

    @property
    def balance_minor(self) -> int:
        return self.amounts[1]

    @property
    def due_now_display(self) -> str:
        return self.money(self.due_now_minor)

    @property
    def total_display(self) -> str:
        return self.money(self.total_minor)

    @property
    def awaiting_approval(self) -> bool:
        return self.status == self.Status.DRAFT and self.send_requested_at is not None

    @property
    def is_open_for_signature(self) -> bool:
        return self.status in (self.Status.SENT, self.Status.VIEWED) and self.revoked_at is None

    def display_status(self) -> str:
        if self.awaiting_approval:
            return "Awaiting approval to send"
        if self.revoked_at and self.superseded_by_id:
            return f"{self.get_status_display()} (replaced by v{self.version + 1})"
        if self.revoked_at:
            return f"{self.get_status_display()} (link revoked)"
        return self.get_status_display()

    def money(self, minor: int) -> str:
        return money.format_money(minor, self.currency)


class ProposalLine(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    description = models.CharField(max_length=500)
    quantity = models.DecimalField(max_digits=10, decimal_places=2, default=1, validators=[MinValueValidator(0)])
    unit_price_minor = models.BigIntegerField(verbose_name="unit price", validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=0), name="proposalline_quantity_not_negative"),
            models.CheckConstraint(condition=Q(unit_price_minor__gte=0), name="proposalline_price_not_negative"),
        ]

    def __str__(self) -> str:
        return self.description

    @property
    def total_minor(self) -> int:
        return money.line_total(quantity=self.quantity, unit_price_minor=self.unit_price_minor)


class Signature(models.Model):
    """The e-signature record: who, from where, when, and a hash of exactly what they were shown."""

    proposal = models.OneToOneField(Proposal, on_delete=models.PROTECT, related_name="signature")
    signer_name = models.CharField(max_length=200)
    signer_email = models.CharField(max_length=254)
    consent_text = models.CharField(max_length=500)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    signed_at = models.DateTimeField()
    content_sha256 = models.CharField(verbose_name="content fingerprint (SHA-256)", max_length=64)
    content = models.TextField(help_text="The proposal exactly as rendered to the signer.")

    def __str__(self) -> str:
        return f"Signed by {self.signer_name} on {self.signed_at:%Y-%m-%d}"


class Payment(TimeStampedModel):
    """One Stripe Checkout Session for a proposal and what became of it.

    Money that is not what the proposal asked for at that moment (another amount or currency, a
    proposal that is not payable, a proposal we do not know) is kept as `review`, never `paid`,
    until a person settles it in Stripe and marks it reviewed.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Checkout open"
        PENDING = "pending", "Processing (delayed payment method)"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Checkout expired"
        REFUNDED = "refunded", "Refunded"
        REVIEW = "review", "Needs review"

    proposal = models.ForeignKey(
        Proposal,
        on_delete=models.PROTECT,
        related_name="payments",
        null=True,
        blank=True,
        help_text="Empty only for a payment needing review that names a proposal we do not have.",
    )
    lead = models.ForeignKey("leads.Lead", on_delete=models.PROTECT, related_name="payments")
    checkout_session_id = models.CharField(verbose_name="Stripe Checkout session", max_length=255, unique=True)
    payment_intent_id = models.CharField(verbose_name="Stripe payment ID", max_length=255, blank=True, db_index=True)
    customer_id = models.CharField(
        verbose_name="Stripe customer",
        max_length=255,
        blank=True,
        help_text="Empty when Stripe kept the payer as a guest (no customer record).",
    )
    checkout_url = models.URLField(max_length=2000, blank=True)
    amount_minor = models.BigIntegerField(
        verbose_name="amount",
    )
    currency = models.CharField(max_length=3)
    refunded_minor = models.BigIntegerField(verbose_name="refunded", default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    failure_message = models.CharField(max_length=500, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_event_id = models.CharField(
        verbose_name="last Stripe event", max_length=255, blank=True, help_text="The last Stripe event applied."
    )
    review_reason = models.CharField(max_length=500, blank=True, help_text="Why this payment was not applied.")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gte=0), name="payment_amount_not_negative"),
            models.CheckConstraint(condition=Q(refunded_minor__gte=0), name="payment_refund_not_negative"),
            models.CheckConstraint(
                condition=Q(proposal__isnull=False) | ~Q(review_reason=""), name="payment_proposal_unless_review"
            ),
        ]
        indexes = [models.Index(fields=["lead", "status"], name="payment_lead_status_idx")]

    def __str__(self) -> str:
        return f"{money.format_money(self.amount_minor, self.currency)} {self.get_status_display()}"

    @property
    def amount_display(self) -> str:
        return money.format_money(self.amount_minor, self.currency)
