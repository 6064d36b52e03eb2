"""normalize_phone's shortcut for North American numbers gives exactly what phonenumbers gives."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from clientsflow.errors import InvalidInput
from leads.services.identity import NANP_REGIONS, _nanp_e164, normalize_phone


def slow(value: str, region: str) -> str:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return "invalid"
    if not phonenumbers.is_possible_number(number):
        return "invalid"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def formats(digits: str, rng: random.Random) -> list[str]:
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return [
        f"+1 ({a}) {b}-{c}",
        f"{a}.{b}.{c}",
        f"({a}) {b} {c}",
        f"+1{digits}",
        f"{a}-{b}-{c}",
        f"+1 {a} {b} {c}",
        f"{rng.choice(['', ' '])}{digits}",
        f"1 {a} {b} {c}",  # national prefix: left to phonenumbers
        f"+1 {a} {b} {c} x12",  # extension: left to phonenumbers
        f"+1-{a}-{b}-{c[:3]}",  # too short
    ]


@pytest.mark.parametrize("region", ["US", "CA", "GB", "DE"])
def test_the_shortcut_agrees_with_phonenumbers_on_many_numbers(settings, region):
    settings.PHONE_DEFAULT_REGION = region
    rng = random.Random(5)
    checked = 0
    for _ in range(400):
        digits = "".join(rng.choice("0123456789") for _ in range(10))
        for value in formats(digits, rng):
            try:
                ours = normalize_phone(value)
            except InvalidInput:
                ours = "invalid"
            assert ours == slow(value, region), value
            checked += bool(_nanp_e164(value, region))
    assert checked > 300  # the shortcut was taken, not only the slow path
    assert ("US" in NANP_REGIONS) and ("GB" not in NANP_REGIONS)
