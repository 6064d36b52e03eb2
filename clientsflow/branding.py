"""What a lead sees of the agency on public pages: its name, logo, host and colour.

Everything comes from the settings row (`site_settings()`). The colour reaches the page through
`/brand.css` (a stylesheet, because the Content-Security-Policy forbids `style=` on public
pages), and uploaded branding files through `/media/branding/...`, which serves images only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path

from django.conf import settings
from django.urls import reverse

from clientsflow.models import SiteSettings
from clientsflow.site import host_display_name, site_settings

DEFAULT_BRAND_COLOUR = "#2458d3"
HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")
# Only images are served from MEDIA_ROOT/branding/; the type comes from this table, never from
# the file, so an upload cannot make us answer with HTML.
BRANDING_CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Branding:
    agency_name: str
    host_name: str
    headline: str
    logo_url: str
    host_photo_url: str
    colour: str
    ink: str  # black or white, whichever reads better on `colour`
    css_url: str
    contact_email: str
    logo_path: Path | None  # the file on disk, for the PDF


def brand_colour(value: str) -> str:
    """The settings' colour when it is a hex colour, else the default (it goes into CSS)."""
    value = (value or "").strip()
    if not HEX_COLOUR.match(value):
        return DEFAULT_BRAND_COLOUR
    if len(value) == 4:
        value = "#" + "".join(c * 2 for c in value[1:])
    return value.lower()


def readable_ink(colour: str) -> str:
    """Black or white text on `colour`, by WCAG relative luminance (contrast >= 4.5 where possible)."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#111111" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#ffffff"


def _file_url(field: object) -> str:
    name = getattr(field, "name", "") or ""
    if not name.startswith("branding/") or Path(name).suffix.lower() not in BRANDING_CONTENT_TYPES:
        return ""
    return reverse("branding-file", args=[name.removeprefix("branding/")])


def branding_file_path(name: str) -> Path | None:
    """The branding file `name` under MEDIA_ROOT/branding/, or None (missing, not an image, escaping)."""
    if not settings.MEDIA_ROOT or Path(name).suffix.lower() not in BRANDING_CONTENT_TYPES:
        return None
    root = (Path(settings.MEDIA_ROOT) / "branding").resolve()
    path = (root / name).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def _contact_email() -> str:
    """Where a lead can write: OWNER_EMAIL, else the From address; none for a local-only address."""
    address = parseaddr(getattr(settings, "OWNER_EMAIL", "") or settings.DEFAULT_FROM_EMAIL)[1]
    return "" if not address or address.endswith("@localhost") else address


def public_branding(*, host_name: str = "", title: str = "") -> Branding:
    """The branding for a public page. `host_name` is the booking host's own name, used when the
    settings name neither a host nor an owner; `title` the event type's title, used when there is no headline."""
    row: SiteSettings = site_settings()
    # As every email names the host: the settings' host, else the owner's display name; the host
    # row's own name (on a fresh install, the staff account's username) only when both are empty.
    host = host_display_name(host_name.strip()).strip()
    colour = brand_colour(row.brand_colour)
    version = int(row.updated_at.timestamp()) if row.updated_at else 0
    logo_name = getattr(row.logo, "name", "") or ""
    return Branding(
        agency_name=row.agency_name,
        host_name=host,
        headline=row.booking_headline.strip() or (f"{title} with {host}" if title else f"Book a call with {host}"),
        logo_url=_file_url(row.logo),
        host_photo_url=_file_url(row.host_photo),
        colour=colour,
        ink=readable_ink(colour),
        css_url=f"{reverse('brand-css')}?v={version}",
        contact_email=_contact_email(),
        logo_path=branding_file_path(logo_name.removeprefix("branding/")) if logo_name else None,
    )
