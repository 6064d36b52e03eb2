from decimal import Decimal

import pytest

from billing import money
from clientsflow.errors import InvalidInput


def test_usd_and_jpy_conversions_respect_the_currency_exponent():
    assert money.to_minor("1250.50", "USD") == 125050
    assert money.to_minor("1,000", "JPY") == 1000
    assert money.to_minor(Decimal("0.125"), "KWD") == 125
    with pytest.raises(InvalidInput, match="JPY amounts have no decimals"):
        money.to_minor("10.5", "JPY")
    with pytest.raises(InvalidInput, match="at most 2 decimals"):
        money.to_minor("10.001", "USD")
    with pytest.raises(InvalidInput, match="not an amount"):
        money.to_minor("ten", "USD")


def test_formatting_is_per_currency():
    assert money.format_money(125050, "USD") == "$1,250.50"
    assert money.format_money(1000, "JPY") == "¥1,000"
    assert money.format_money(125, "KWD") == "0.125 KWD"
    assert money.format_money(-5, "EUR") == "-€0.05"


@pytest.mark.parametrize(
    ("total", "parts", "expected"),
    [
        (100, 3, [34, 33, 33]),
        (10000, 3, [3334, 3333, 3333]),
        (1000, 3, [334, 333, 333]),  # JPY: 1,000 yen in thirds, still whole yen
        (2, 3, [1, 1, 0]),
        (0, 3, [0, 0, 0]),
    ],
)
def test_even_splits_always_sum_to_the_total(total, parts, expected):
    result = money.allocate(total, [1] * parts)
    assert result == expected
    assert sum(result) == total


def test_weighted_allocation_is_deterministic_and_exact():
    assert money.allocate(1001, [1, 1, 1]) == [334, 334, 333]
    assert money.allocate(100, [1, 2]) == [33, 67]
    for total in range(0, 500, 7):
        assert sum(money.allocate(total, [3, 5, 7, 11])) == total
    with pytest.raises(ValueError):
        money.allocate(10, [0, 0])


def test_deposit_and_balance_sum_to_the_total_with_awkward_amounts():
    assert money.deposit_split(100000, 33) == (33000, 67000)
    assert money.deposit_split(1001, 50) == (501, 500)  # half a cent rounds up on the deposit
    assert money.deposit_split(999, 33) == (330, 669)  # 329.67 -> 330
    assert money.deposit_split(12345, None) == (12345, 0)
    for total in (1, 2, 3, 999, 1001, 33333):
        for percent in (1, 33, 50, 67, 99, 100):
            deposit, balance = money.deposit_split(total, percent)
            assert deposit + balance == total and deposit >= 0 and balance >= 0


def test_line_totals_round_half_up_to_a_minor_unit():
    assert money.line_total(quantity=Decimal("1.5"), unit_price_minor=3333) == 5000  # 4999.5 -> 5000
    assert money.line_total(quantity=Decimal("3"), unit_price_minor=3333) == 9999
    assert money.line_total(quantity=Decimal("0.33"), unit_price_minor=1000) == 330
