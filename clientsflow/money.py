"""Money shown as money: integer minor units and a currency code -> "$1,250.00", "€980.00".

The one formatter every screen uses (admin, templates, emails); arithmetic on amounts (parsing
what a person typed, splitting a deposit) lives with the app that owns them, `billing.money`.
"""

from __future__ import annotations

from decimal import Decimal

# ISO 4217 currencies without a minor unit, as Stripe lists them ("zero-decimal currencies"):
# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}


def currency_exponent(currency: str) -> int:
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-currency_exponent(currency))


def format_money(minor: int | None, currency: str) -> str:
    """1234, "USD" -> "$12.34"; 1000, "JPY" -> "¥1,000"; unknown symbols use the code; None -> "—"."""
    if minor is None:
        return "—"
    code = (currency or "").upper()
    exponent = currency_exponent(code)
    sign = "-" if minor < 0 else ""
    number = f"{abs(from_minor(minor, code)):,.{exponent}f}"
    symbol = SYMBOLS.get(code)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {code}".rstrip()
