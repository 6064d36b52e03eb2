"""The time zones a visitor may pick: canonical IANA names only.

`zoneinfo.available_timezones()` also lists every backward-compatible alias (`Africa/Asmera`,
`US/Eastern`, `Japan`), which would show one place under several names. The canonical set is
read from the tz database itself (the `tzdata` package): every zone it defines with a `Z` line,
plus the one name per country in `zone.tab` (so `Europe/Amsterdam` stays even though it is now
an alias of Brussels), without `Etc/` offsets. See https://data.iana.org/time-zones/theory.html.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from zoneinfo import available_timezones

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe


def _tzdata_text(name: str) -> str:
    try:
        return resources.files("tzdata").joinpath(f"zoneinfo/{name}").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return ""


@cache
def canonical_zone_names() -> tuple[str, ...]:
    """Sorted canonical zone names (`Region/City`), plus UTC at the end."""
    defined = {line.split()[1] for line in _tzdata_text("tzdata.zi").splitlines() if line.startswith("Z ")}
    per_country = {
        line.split("\t")[2]
        for line in _tzdata_text("zone.tab").splitlines()
        if line and not line.startswith("#") and line.count("\t") >= 2
    }
    names = {n for n in defined | per_country if "/" in n and not n.startswith("Etc/")}
    if not names:  # no tzdata package: the system's list, minus the obvious aliases
        names = {n for n in available_timezones() if "/" in n and n.split("/")[0] not in _ALIAS_PREFIXES}
    return (*sorted(names), "UTC")


@cache
def _canonical_set() -> frozenset[str]:
    return frozenset(canonical_zone_names())


@cache
def _zone_links() -> dict[str, str]:
    """Alias -> the zone it links to, from the tz database's `L target alias` lines."""
    links: dict[str, str] = {}
    for line in _tzdata_text("tzdata.zi").splitlines():
        if line.startswith("L "):
            parts = line.split()
            if len(parts) == 3:
                links[parts[2]] = parts[1]
    return links


def canonical_zone(name: str) -> str:
    """The canonical name of a zone (`Asia/Calcutta` -> `Asia/Kolkata`); a canonical or unknown
    name comes back as it is. A browser on an old system still reports the old names."""
    canonical = _canonical_set()
    if name in canonical:
        return name
    target = _zone_links().get(name, name)
    return target if target in canonical else name


_ALIAS_PREFIXES = {"Etc", "SystemV", "US", "Brazil", "Canada", "Chile", "Mexico"}


def zone_choices(first: str) -> list[str]:
    """The canonical names with the visitor's zone (by its canonical name when it is an alias) at the top."""
    names = canonical_zone_names()
    first = canonical_zone(first) if first else first
    return [first, *(n for n in names if n != first)] if first else list(names)


def zone_label(name: str) -> str:
    """`America/Argentina/Buenos_Aires` -> `Buenos Aires (America/Argentina)`, for people to read."""
    region, _, city = name.rpartition("/")
    return f"{city.replace('_', ' ')} ({region})" if region else name


@cache
def _zone_options() -> dict[str, str]:
    """Each canonical zone's `<option>` (escaped), built once per process from tzdata."""
    return {name: _zone_option(name) for name in canonical_zone_names()}


def _zone_option(name: str) -> str:
    return format_html('<option value="{}">{}</option>', name, zone_label(name))


def zone_options_html(first: str) -> SafeString:
    """The `<option>`s of the zone picker, in `zone_choices(first)` order. The page lists some 400
    zones: rendering them through the template cost more than the rest of the page."""
    options = _zone_options()
    return mark_safe("".join(options.get(name) or _zone_option(name) for name in zone_choices(first)))  # noqa: S308
