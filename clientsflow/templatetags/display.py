"""Template filters for values as people read them: `{% load display %}` then
`{{ amount|money:currency }}`, `{{ phone|phone_international }}`, `{{ when|owner_time }}`,
`{{ when|ago }}`."""

from __future__ import annotations

from datetime import datetime

from django import template

from clientsflow import display
from clientsflow.money import format_money

register = template.Library()


@register.filter
def money(minor: int | None, currency: str = "USD") -> str:
    return format_money(minor, currency)


@register.filter
def phone_international(value: str) -> str:
    return display.phone_international(value)


@register.filter
def owner_time(value: datetime | None) -> str:
    return display.owner_time(value)


@register.filter
def ago(value: datetime | None) -> str:
    return display.relative_time(value)
