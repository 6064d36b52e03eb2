"""Proposals and payments in the admin: drafts are edited here, sent through the outbound gate,
revised into new versions; payments are read-only records of what Stripe said."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from billing import money
from billing.clients import stripe as stripe_client
from billing.models import Payment, Proposal, ProposalLine, Signature
from billing.services.links import proposal_link_token, proposal_link_url
from billing.services.outbound_sync import proposal_outbound_sync
from billing.services.payments import payment_apply_session, payment_review_resolve
from billing.services.proposals import (
    check_proposal_create,
    check_proposal_editable,
    proposal_create,
    proposal_decline,
    proposal_revise,
    proposal_revoke_link,
    proposal_send,
    proposal_totals_refresh,
)
from clientsflow.display import owner_time, owner_time_column
from clientsflow.errors import DomainError
from clientsflow.money import format_money


def _editable(obj: Proposal | None) -> bool:
    if obj is None:
        return True
    try:
        check_proposal_editable(proposal=obj)
    except DomainError:
        return False
    return True


class ProposalForm(forms.ModelForm):
    """The service's own checks, shown on the form instead of failing the save."""

    class Meta:
        model = Proposal
        fields = ()

    def clean_currency(self) -> str:
        try:
            return money.check_currency(self.cleaned_data.get("currency") or "")
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        ready = all(cleaned.get(name) is not None for name in ("lead", "title", "currency"))
        if self.instance.pk is None and ready:
            try:
                check_proposal_create(
                    lead=cleaned["lead"],
                    title=cleaned["title"],
                    currency=cleaned["currency"],
                    deposit_percent=cleaned.get("deposit_percent"),
                )
            except DomainError as exc:
                raise forms.ValidationError(str(exc)) from None
        return cleaned


class ProposalLineForm(forms.ModelForm):
    unit_price = forms.DecimalField(
        max_digits=16, decimal_places=3, min_value=0, help_text="In the proposal's currency, e.g. 1250.00"
    )

    class Meta:
        model = ProposalLine
        fields = ("position", "description", "quantity")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["unit_price"] = money.from_minor(
                self.instance.unit_price_minor, self.instance.proposal.currency
            )


class ProposalLineFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        currency = self.instance.currency or "USD"
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or data.get("unit_price") is None:
                continue
            try:
                form.instance.unit_price_minor = money.to_minor(data["unit_price"], currency)
            except DomainError as exc:
                form.add_error("unit_price", str(exc))


class ProposalLineInline(admin.StackedInline):  # stacked: the tabular one has empty header cells (axe)
    """Lines priced in the proposal's currency. Once sent, a version's lines are a record: read-only,
    with the price shown as money (the editable price is a form field, so it has nothing to show
    read-only: that was the "Unit price: None")."""

    model = ProposalLine
    form = ProposalLineForm
    formset = ProposalLineFormSet
    extra = 1
    EDITABLE = ("position", "description", "quantity", "unit_price", "line_total")
    LOCKED = ("position", "description", "quantity", "unit_price_display", "line_total")

    def _locked(self, obj: Proposal | None) -> bool:
        return not _editable(obj)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.LOCKED if self._locked(obj) else self.EDITABLE

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.LOCKED if self._locked(obj) else ("line_total",)

    def get_extra(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> int:
        return 0 if self._locked(obj) else self.extra

    @admin.display(description="Unit price")
    def unit_price_display(self, line: ProposalLine) -> str:
        return format_money(line.unit_price_minor, line.proposal.currency) if line.pk else "—"

    @admin.display(description="Line total")
    def line_total(self, line: ProposalLine) -> str:
        if not line.pk:
            return "—"
        return format_money(line.total_minor, line.proposal.currency)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._locked(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._locked(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._locked(obj) and super().has_delete_permission(request, obj)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True


class SignatureInline(admin.StackedInline):
    model = Signature
    can_delete = False
    extra = 0
    fields = ("signer_name", "signer_email", "signed_at", "ip_address", "user_agent", "content_sha256", "consent_text")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PaymentInline(admin.StackedInline):
    model = Payment
    can_delete = False
    extra = 0
    fields = ("created_at", "status", "amount_display", "refunded_display", "checkout_session_id", "failure_message")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Amount", ordering="amount_minor")
    def amount_display(self, obj: Payment) -> str:
        return format_money(obj.amount_minor, obj.currency)

    @admin.display(description="Refunded", ordering="refunded_minor")
    def refunded_display(self, obj: Payment) -> str:
        return format_money(obj.refunded_minor, obj.currency) if obj.refunded_minor else "—"


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "lead",
        "version",
        "status_display",
        "total_display",
        "valid_until",
        "sent_at_owner",
        "signed_at_owner",
    )
    list_filter = ("status", "currency", "created_at")
    list_select_related = ("lead",)
    search_fields = ("title", "lead__name", "lead__email_normalized", "lead__company")
    raw_id_fields = ("lead",)
    fields = (
        "lead",
        "title",
        "introduction",
        "terms",
        "currency",
        "deposit_percent",
        "valid_until",
        "status_display",
        "total_display",
        "public_link",
        "version",
        "versions",
        "sent_at_owner",
        "viewed_at_owner",
        "signed_at_owner",
        "paid_at_owner",
        "declined_at_owner",
        "revoked_at_owner",
        "outbound_message_id",
    )
    form = ProposalForm
    inlines = (ProposalLineInline, SignatureInline, PaymentInline)
    actions = ("send_for_approval", "create_new_version", "mark_declined", "revoke_link")
    TIMES = (
        "version",
        "sent_at_owner",
        "viewed_at_owner",
        "signed_at_owner",
        "paid_at_owner",
        "declined_at_owner",
        "revoked_at_owner",
        "outbound_message_id",
    )

    sent_at_owner = owner_time_column("sent_at", "Sent")
    viewed_at_owner = owner_time_column("viewed_at", "First opened")
    signed_at_owner = owner_time_column("signed_at", "Signed")
    paid_at_owner = owner_time_column("paid_at", "Paid")
    declined_at_owner = owner_time_column("declined_at", "Declined")
    revoked_at_owner = owner_time_column("revoked_at", "Link revoked")

    def get_readonly_fields(self, request: HttpRequest, obj: Proposal | None = None) -> tuple[str, ...]:
        base = ("status_display", "total_display", "public_link", "versions", *self.TIMES)
        if not _editable(obj):
            return (*base, "lead", "title", "introduction", "terms", "currency", "deposit_percent", "valid_until")
        return base if obj is None else (*base, "lead")

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None):
        # get_object answers None for an id that is not one ("1/change/x"): the admin then says
        # the proposal does not exist instead of failing on the lookup.
        proposal = self.get_object(request, unquote(object_id))
        if proposal is not None and proposal.awaiting_approval:
            proposal_outbound_sync(proposal=proposal)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Status")
    def status_display(self, obj: Proposal) -> str:
        return obj.display_status()

    @admin.display(description="Total")
    def total_display(self, obj: Proposal) -> str:
        if obj.balance_minor:
            return f"{obj.total_display} (deposit {obj.due_now_display})"
        return obj.total_display

    @admin.display(description="What the lead sees")
    def public_link(self, obj: Proposal) -> str:
        if obj.pk is None:
            return "Save the proposal to preview it."
        # The preview opens on this site (staff see drafts; their visits are not counted as the
        # lead's); the address below is the one the email carries.
        return format_html(
            '<a class="button" href="{}" target="_blank" rel="noopener">Preview what the lead sees</a>'
            '<div class="help">Their link: {}</div>',
            reverse("billing:proposal", kwargs={"token": proposal_link_token(proposal=obj)}),
            proposal_link_url(proposal=obj),
        )

    @admin.display(description="Versions")
    def versions(self, obj: Proposal) -> str:
        if obj.pk is None:
            return "—"
        rows = Proposal.objects.filter(family=obj.family).order_by("-version")
        items = [
            (
                reverse("admin:billing_proposal_change", args=[row.pk]),
                f"v{row.version}",
                f"{row.display_status()} · {row.total_display} · {owner_time(row.sent_at) if row.sent_at else 'not sent'}",
                " (this one)" if row.pk == obj.pk else "",
            )
            for row in rows
        ]
        return format_html(
            '<ul class="plain-list">{}</ul>', format_html_join("", '<li><a href="{}">{}</a> · {}{}</li>', items)
        )

    def save_model(self, request: HttpRequest, obj: Proposal, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = proposal_create(
            lead=obj.lead,
            title=obj.title,
            currency=obj.currency,
            valid_until=obj.valid_until,
            lines=[],
            deposit_percent=obj.deposit_percent,
            introduction=obj.introduction,
            terms=obj.terms,
            actor=request.user,
        )
        # The admin saves the inline lines onto `obj` next (then save_related refreshes the total),
        # so `obj` becomes the row the service made; the whole add is one transaction.
        obj.pk = created.pk
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if _editable(form.instance):
            proposal_totals_refresh(proposal=form.instance)

    def _each(self, request: HttpRequest, queryset: QuerySet[Proposal], func: Any, done: str) -> None:
        ok = 0
        for proposal in queryset.select_related("lead"):
            try:
                func(proposal)
                ok += 1
            except DomainError as exc:
                self.message_user(request, f"{proposal}: {exc}", messages.ERROR)
        if ok:
            self.message_user(request, done.format(n=ok), messages.SUCCESS)

    @admin.action(description="Send for approval (email with the link, via the review queue)", permissions=["change"])
    def send_for_approval(self, request: HttpRequest, queryset: QuerySet[Proposal]) -> None:
        self._each(
            request,
            queryset,
            lambda p: proposal_send(proposal=p, actor=request.user),
            "{n} proposal email(s) are waiting in the outbound review queue; they are sent once approved.",
        )

    @admin.action(description="Create a new version to edit", permissions=["change"])
    def create_new_version(self, request: HttpRequest, queryset: QuerySet[Proposal]) -> None:
        self._each(
            request,
            queryset,
            lambda p: proposal_revise(proposal=p, actor=request.user),
            "{n} new draft version(s) created; the old link keeps working until the new version is sent.",
        )

    @admin.action(description="Mark declined", permissions=["change"])
    def mark_declined(self, request: HttpRequest, queryset: QuerySet[Proposal]) -> None:
        self._each(
            request, queryset, lambda p: proposal_decline(proposal=p, actor=request.user), "{n} marked declined."
        )

    @admin.action(description="Revoke the link (it stops working)", permissions=["change"])
    def revoke_link(self, request: HttpRequest, queryset: QuerySet[Proposal]) -> None:
        self._each(
            request, queryset, lambda p: proposal_revoke_link(proposal=p, actor=request.user), "{n} link(s) revoked."
        )


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "lead",
        "proposal",
        "amount_display",
        "status",
        "refunded_display",
        "failure_message",
        "review_reason",
        "reviewed_at",
    )
    list_filter = ("status", ("reviewed_at", admin.EmptyFieldListFilter), "currency", "created_at")
    list_select_related = ("lead", "proposal")
    search_fields = ("checkout_session_id", "payment_intent_id", "lead__email_normalized", "lead__name")
    readonly_fields = [
        "amount_display" if f.name == "amount_minor" else "refunded_display" if f.name == "refunded_minor" else f.name
        for f in Payment._meta.fields
    ]
    actions = ("refresh_from_stripe", "mark_reviewed")

    @admin.display(description="Amount", ordering="amount_minor")
    def amount_display(self, obj: Payment) -> str:
        return format_money(obj.amount_minor, obj.currency)

    @admin.display(description="Refunded", ordering="refunded_minor")
    def refunded_display(self, obj: Payment) -> str:
        return format_money(obj.refunded_minor, obj.currency) if obj.refunded_minor else "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Refresh from Stripe", permissions=["view"])
    def refresh_from_stripe(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        if not stripe_client.enabled():
            self.message_user(
                request, "Stripe is not configured (STRIPE_API_KEY); nothing to refresh.", messages.WARNING
            )
            return
        changed = 0
        for payment in queryset[:50]:
            try:
                session = stripe_client.checkout_session_retrieve(payment.checkout_session_id)
            except stripe_client.StripeClientError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return
            changed += payment_apply_session(session=session, authoritative=True, source=f"admin:{request.user}")[1]
        self.message_user(request, f"Refreshed; {changed} payment(s) changed.", messages.SUCCESS)

    @admin.action(description="Mark reviewed (settled in Stripe; stays not paid)", permissions=["change"])
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        done = 0
        for payment in queryset[:50]:
            try:
                payment_review_resolve(payment=payment, actor=request.user)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{payment}: {exc}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} payment(s) marked reviewed.", messages.SUCCESS)
