"""Who any email may go to: the `SEND_ALLOWLIST` check every sender shares.

It lives here, at the bottom layer, so the outreach mail gate (lead mail: allowlist plus the
suppression list) and the owner's notifications (`clientsflow.notify`) apply one and the same rule.
"""

from __future__ import annotations

import hashlib
from fnmatch import fnmatchcase

from django.conf import settings


def allowlist_permits(address: str) -> bool:
    """True when SEND_ALLOWLIST is empty or one of its patterns matches the whole address.

    Patterns are shell-style globs, case-insensitive (`ops@agency.example`, `*@agency.example`,
    `*+zz@agency.example`, `*@*.agency.example`); the older `@agency.example` form still means
    the whole domain.
    """
    patterns = [p.strip().lower() for p in settings.SEND_ALLOWLIST if p.strip()]
    if not patterns:
        return True
    address = (address or "").strip().lower()
    if not address:
        return False
    return any(fnmatchcase(address, "*" + p if p.startswith("@") else p) for p in patterns)


def masked_address(address: str) -> str:
    """`a***@example.com`: enough for a person to recognise, not the address itself."""
    local, _, domain = (address or "").strip().partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def address_hash(address: str) -> str:
    """The SHA-256 of the normalized address: what audit entries keep instead of the address."""
    return hashlib.sha256((address or "").strip().lower().encode()).hexdigest()
