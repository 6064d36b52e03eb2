"""The one row of site settings, read everywhere through `site_settings()`.

Cached in Django's cache (shared by every web and worker process) and dropped when the row is
saved through `site_settings_update` or the admin, so no process keeps a stale copy of its own.
Within one request (`site_settings_memo`, opened by `PublicBaseUrlMiddleware`) the row is read
from that cache once and kept for the rest of the request: a booking POST asks for it about eight
times (branding, the sender, the signature, links). Saving the row drops the request's copy too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction

from clientsflow.models import SiteSettings

SITE_SETTINGS_CACHE_KEY = "site-settings:v1"
SITE_SETTINGS_TTL_SECONDS = 300


def _environment_defaults() -> dict[str, Any]:
    return {
        "agency_name": settings.AGENCY_NAME,
        "owner_name": settings.OWNER_NAME,
        "sender_name": settings.AGENCY_NAME,
        "host_name": settings.OWNER_NAME,
        "booking_headline": f"Book a call with {settings.OWNER_NAME}",
        "signature": f"Best,\n{settings.OWNER_NAME}\n{settings.AGENCY_NAME}",
        "public_base_url": settings.PUBLIC_BASE_URL,
        "default_currency": settings.DEFAULT_CURRENCY,
        "notify_via": settings.NOTIFY_VIA,
    }


# The current request's copy of the row: a one-slot box while a request is being served (None
# outside one: tasks, the dispatcher and the shell read the shared cache every time).
_request_memo: ContextVar[list[SiteSettings] | None] = ContextVar("site_settings_memo", default=None)
# The row a block of code reads in several places, read once (`site_settings_pinned`).
_pinned: ContextVar[SiteSettings | None] = ContextVar("site_settings_pinned", default=None)


def site_settings() -> SiteSettings:
    """The settings row, created from the environment on the first read."""
    pinned = _pinned.get()
    if pinned is not None:
        return pinned
    memo = _request_memo.get()
    if memo:
        return memo[0]
    row = _site_settings_shared()
    if memo is not None:
        memo.append(row)
    return row


def _site_settings_shared() -> SiteSettings:
    cached = cache.get(SITE_SETTINGS_CACHE_KEY)
    if isinstance(cached, SiteSettings):
        return cached
    row = SiteSettings.objects.filter(pk=1).first()
    if row is None:
        try:
            with transaction.atomic():
                row, _ = SiteSettings.objects.get_or_create(pk=1, defaults=_environment_defaults())
        except IntegrityError:
            row = SiteSettings.objects.get(pk=1)
    cache.set(SITE_SETTINGS_CACHE_KEY, row, SITE_SETTINGS_TTL_SECONDS)
    return row


@contextmanager
def site_settings_pinned() -> Iterator[SiteSettings]:
    """Within the block, `site_settings()` answers from one read of the row: a page that needs it
    in several places (the board: its currency, the forecast's probabilities, the going-cold days)
    makes one round trip to the cache, not one per place. A save within the block unpins it."""
    token = _pinned.set(site_settings())
    try:
        yield site_settings()
    finally:
        _pinned.reset(token)


def site_settings_forget() -> None:
    """Drop the cached row now (later reads in this transaction see the change) and again once the
    transaction commits (another process may have cached the old row in between)."""
    memo = _request_memo.get()
    if memo:
        memo.clear()
    _pinned.set(None)
    cache.delete(SITE_SETTINGS_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(SITE_SETTINGS_CACHE_KEY))


@transaction.atomic
def site_settings_update(**changes: Any) -> SiteSettings:
    row = site_settings()
    row = SiteSettings.objects.select_for_update().get(pk=row.pk)
    for name, value in changes.items():
        setattr(row, name, value)
    row.full_clean()
    row.save()
    site_settings_forget()
    return row


# --- How the agency signs what leads read -----------------------------------------------------


def lead_from_email() -> str:
    """The From of every email to a lead: the settings' sender name at DEFAULT_FROM_EMAIL's address."""
    row = site_settings()
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL
    return formataddr((row.sender_name or row.agency_name, address))


def lead_signature() -> str:
    """The closing of every email to a lead (the settings' signature, else the sender and agency)."""
    row = site_settings()
    if row.signature.strip():
        return row.signature.strip()
    name = row.sender_name or row.agency_name
    return f"Best,\n{name}" + (f"\n{row.agency_name}" if row.agency_name and row.agency_name != name else "")


def host_display_name(fallback: str = "") -> str:
    """Who the lead meets, as the settings name them (booking pages, invites, emails)."""
    row = site_settings()
    return row.host_name.strip() or row.owner_name.strip() or fallback


# --- The address links point at ---------------------------------------------------------------

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
# The address the current request came in at (set by `PublicBaseUrlMiddleware`), per request/context.
_request_base_url: ContextVar[str] = ContextVar("request_base_url", default="")


def public_base_url() -> str:
    """Where every absolute link (emails, alerts, Slack) points, without a trailing slash.

    In order: the settings row's public base URL, `PUBLIC_BASE_URL`, the address the current
    request came in at, the address `runembedded` serves (`make run`'s HOST:PORT), then
    http://127.0.0.1:8000.
    """
    for candidate in (
        site_settings().public_base_url,
        settings.PUBLIC_BASE_URL,
        _request_base_url.get(),
        settings.SERVED_BASE_URL,
    ):
        if candidate:
            return candidate.rstrip("/")
    return DEFAULT_BASE_URL


def request_base_url_set(url: str) -> Token[str]:
    return _request_base_url.set(url.rstrip("/"))


def request_base_url_reset(token: Token[str]) -> None:
    _request_base_url.reset(token)


def site_settings_memo_open() -> Token[list[SiteSettings] | None]:
    """Start keeping the settings row for the rest of this request (see the module's docstring)."""
    return _request_memo.set([])


def site_settings_memo_close(token: Token[list[SiteSettings] | None]) -> None:
    _request_memo.reset(token)
