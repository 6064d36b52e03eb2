"""normalize_email's shortcut for everyday addresses accepts only what Django's validator accepts."""

from __future__ import annotations

import random

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from clientsflow.errors import InvalidInput
from leads.services.identity import _PLAIN_EMAIL, MAX_EMAIL_LENGTH, normalize_email

LOCAL_CHARS = ("abz09._+-", "abz09._+-!#'~\"\\ @é")  # everyday characters, then odd ones too
DOMAIN_CHARS = ("abz09-", "abz09-._ é")


def django_accepts(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def samples(rng: random.Random) -> list[str]:
    found = []
    for _ in range(10000):
        local_chars, domain_chars = (rng.choice(chars) for chars in (LOCAL_CHARS, DOMAIN_CHARS))
        local = "".join(rng.choice(local_chars) for _ in range(rng.randint(0, 8)))
        labels = [
            "".join(rng.choice(domain_chars) for _ in range(rng.choice([0, 1, 2, 3, 5, 62, 63, 64])))
            for _ in range(rng.randint(1, 3))
        ]
        tld = rng.choice(["com", "io", "c", "c0m", "xn--p1ai", "co-", "-co", "museum", "a" * 63, "a" * 64, ""])
        found.append(f"{local}@{'.'.join(labels)}.{tld}")
    # Near the validator's length limit.
    found.append("a" * 64 + "@" + ".".join(["b" * 63] * 3) + "." + "c" * 60)
    found.append("a" * 64 + "@" + ".".join(["b" * 63] * 4) + "." + "c" * 60)
    return found


def test_the_shortcut_accepts_only_what_the_validator_accepts():
    rng = random.Random(3)
    taken = refused = 0
    for value in samples(rng):
        if len(value) <= MAX_EMAIL_LENGTH and _PLAIN_EMAIL.fullmatch(value):
            assert django_accepts(value), value
            taken += 1
        elif not django_accepts(value):
            refused += 1
    # The samples exercise both sides.
    assert taken > 150
    assert refused > 300


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ada.Lovelace+crm@Engine.Example ", "ada.lovelace+crm@engine.example"),
        ("o'brien@x.example", "o'brien@x.example"),  # not the shortcut's: the validator's
        ("ZOË@exämple.de", "zoë@exämple.de"),
        ("user@localhost", "user@localhost"),
        ("", ""),
    ],
)
def test_normalized_addresses(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["a..b@x.example", "a@x.c0m", "a@-x.example", "a@x", "a b@x.example", "@x.example"])
def test_refused_addresses(raw):
    with pytest.raises(InvalidInput):
        normalize_email(raw)
