"""Times and money on the board: relative times for reading at a glance (exact in the owner's zone
on hover), amounts as the owner scans them."""

from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html

from billing.money import currency_exponent, format_money
from board.selectors import MoneyTotal
from leads.cards import CardConfirm

register = template.Library()


def owner_zone() -> ZoneInfo:
    return ZoneInfo(settings.OWNER_TIMEZONE)


def exact_time(value: datetime) -> str:
    """`Tue 24 Nov 2026, 14:05 EST` in the owner's zone."""
    local = value.astimezone(owner_zone())
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M %Z}"


def relative_time(value: datetime, now: datetime | None = None) -> str:
    now = now or timezone.now()
    seconds = (now - value).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 24 * 3600:
        return f"{int(seconds // 3600)} h ago"
    zone = owner_zone()
    days = (now.astimezone(zone).date() - value.astimezone(zone).date()).days
    if days <= 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    local = value.astimezone(zone)
    if local.year == now.astimezone(zone).year:
        return f"{local.day} {local:%b}"
    return f"{local.day} {local:%b %Y}"


@register.simple_tag
def reltime(value: datetime | None) -> str:
    """A `<time>` element: relative text, machine-readable UTC instant, exact owner-zone time as title."""
    if value is None:
        return ""
    exact = exact_time(value)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.astimezone(ZoneInfo("UTC")).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        exact,
        relative_time(value),
    )


@register.simple_tag
def send_status() -> dict[str, object]:
    """What the header says about sending, read-only from the environment: whether the worker
    sends approved emails on its own (AUTOSEND_ENABLED) and who mail may go to (SEND_ALLOWLIST)."""
    allowlist = [str(entry) for entry in settings.SEND_ALLOWLIST]
    return {
        "autosend": bool(settings.AUTOSEND_ENABLED),
        "allowlist": allowlist,
        "allowlist_text": ", ".join(allowlist) if allowlist else "everyone",
    }


@register.simple_tag
def cardtime(value: datetime | None) -> str:
    """A card's `<time>`: the relative text and the UTC instant only. The exact time in the owner's
    zone (the title on hover) is added by board.js from `datetime`, once per hover instead of
    once per card in the page's HTML."""
    if value is None:
        return ""
    return format_html(
        '<time datetime="{}">{}</time>',
        value.astimezone(ZoneInfo("UTC")).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        relative_time(value),
    )


def confirm_shared(confirm: CardConfirm) -> tuple[str, ...]:
    """The part of a card action's confirm spec every card shares (not its prompt or badge)."""
    return (confirm.reason_label, confirm.confirm_label, confirm.keep_label, confirm.busy_label, confirm.detail)


@register.filter
def confirm_key(confirm: CardConfirm) -> str:
    """A short stable name for the shared part, so it is on the page once, not once per card."""
    return hashlib.sha256("\x1f".join(confirm_shared(confirm)).encode()).hexdigest()[:10]


@register.filter
def owner_time(value: datetime | None) -> str:
    return exact_time(value) if value else ""


def short_money(minor: int, currency: str) -> str:
    """Money as the owner scans it: `$4,500` for whole amounts, `$4,500.50` otherwise."""
    text = format_money(minor, currency)
    exponent = currency_exponent(currency)
    if exponent and minor % (10**exponent) == 0:
        head, _, tail = text.rpartition(".")
        # "4,500.00 CHF" keeps its code after the number.
        text = head + tail[exponent:]
    return text


@register.filter
def money(minor: int | None, currency: str = "") -> str:
    """`{{ lead.value_minor|money:lead.value_currency }}` -> "$4,500"; empty when there is no value."""
    if minor is None or not currency:
        return ""
    return short_money(int(minor), currency)


@register.simple_tag
def money_total(total: MoneyTotal | None) -> str:
    """A board total: the default currency's amount, "+ other currencies" when some were left out."""
    if total is None:
        return ""
    text = short_money(total.minor, total.currency)
    if total.other_currencies:
        return format_html(
            '{} <span class="other-currencies" title="Not added in: {}">+ other currencies</span>',
            text,
            ", ".join(total.other_currencies),
        )
    return text
