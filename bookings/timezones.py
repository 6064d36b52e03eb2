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


_ALIAS_PREFIXES = {"Etc", "SystemV", "US", "Brazil", "Canada", "Chile", "Mexico"}


def zone_choices(first: str) -> list[str]:
    """The canonical names with `first` (the visitor's zone, even when it is an alias) at the top."""
    names = canonical_zone_names()
    return [first, *(n for n in names if n != first)] if first else list(names)


def zone_label(name: str) -> str:
    """`America/Argentina/Buenos_Aires` -> `Buenos Aires (America/Argentina)`, for people to read."""
    region, _, city = name.rpartition("/")
    return f"{city.replace('_', ' ')} ({region})" if region else name
