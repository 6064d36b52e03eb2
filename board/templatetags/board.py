"""Times on the board: relative for reading at a glance, exact in the owner's zone on hover."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html

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
        value.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z"),
        exact,
        relative_time(value),
    )


@register.filter
def owner_time(value: datetime | None) -> str:
    return exact_time(value) if value else ""
