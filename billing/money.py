"""Money in integer minor units: no floats anywhere.

Every amount is an `int` of the currency's minor unit (cents for USD, yen for JPY). Converting
from what a person typed goes through `to_minor`, which refuses more decimals than the currency
has; splitting goes through `allocate`, which hands out remainders deterministically so the parts
always add up to the total.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from clientsflow.errors import InvalidInput
from clientsflow.money import (  # noqa: F401  (re-exported: billing code formats through here)
    SYMBOLS,
    THREE_DECIMAL,
    ZERO_DECIMAL,
    currency_exponent,
    format_money,
    from_minor,
)


def check_currency(currency: str) -> str:
    code = (currency or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise InvalidInput(f"{currency!r} is not a currency code: use three letters such as USD, EUR or JPY.")
    return code


def to_minor(amount: Decimal | str | int, currency: str) -> int:
    """`Decimal("12.34"), "USD"` -> 1234. Refuses fractions the currency cannot hold (12.5 JPY)."""
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip().replace(",", ""))
    except InvalidOperation:
        raise InvalidInput(f"{amount!r} is not an amount: type digits, e.g. 1250.00.") from None
    if not value.is_finite():
        raise InvalidInput(f"{amount!r} is not an amount: type digits, e.g. 1250.00.")
    exponent = currency_exponent(currency)
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        places = "no decimals" if exponent == 0 else f"at most {exponent} decimals"
        raise InvalidInput(f"{currency.upper()} amounts have {places}; {amount} has more.")
    return int(scaled)


def line_total(*, quantity: Decimal, unit_price_minor: int) -> int:
    """Quantity times unit price, rounded half up to a whole minor unit (1.5 h x 33.33 -> 50.00)."""
    return int((Decimal(quantity) * unit_price_minor).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split `total` in proportion to `weights` so the parts sum to exactly `total`.

    Largest-remainder method; ties go to the earliest part, so the result is deterministic
    (100 in three equal parts -> [34, 33, 33]).
    """
    if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
        raise ValueError("weights must be non-negative and not all zero")
    weight_sum = sum(weights)
    parts = [total * w // weight_sum for w in weights]
    remainders = [(total * w % weight_sum, -index) for index, w in enumerate(weights)]
    short = total - sum(parts)
    for _remainder, negative_index in sorted(remainders, reverse=True)[:short]:
        parts[-negative_index] += 1
    return parts


def percent_of(total: int, percent: int) -> int:
    """`percent`% of `total`, rounded half up to a whole minor unit."""
    if not 0 <= percent <= 100:
        raise InvalidInput("A percentage must be between 0 and 100.")
    return int((Decimal(total) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def deposit_split(total: int, percent: int | None) -> tuple[int, int]:
    """(due now, due later): the deposit and the balance, which always sum to `total`."""
    if not percent:
        return total, 0
    deposit = percent_of(total, percent)
    return deposit, total - deposit
