"""Checks of a create-order body (Orders v2), as PayPal makes them, with Decimal.

Independent of the shop's money helpers on purpose: a formatting or arithmetic bug in the shop
is caught here as PayPal would catch it. Schema problems are a 400 ``INVALID_REQUEST``, sums
that do not add up a 422 ``UNPROCESSABLE_ENTITY``; every problem is one entry of ``details``
with PayPal's ``issue`` name.
"""

import re
from decimal import Decimal
from urllib.parse import urlsplit

from simulators.paypal.errors import SimulatorError
from simulators.paypal.validation import PAYPAL_CURRENCIES, WHOLE_UNIT_CURRENCIES

DECIMAL_VALUE = re.compile(r"^\d{1,10}(\.\d{1,10})?$", re.ASCII)
#: Breakdown parts that add to the total, and those taken off it.
ADDS = ("item_total", "tax_total", "shipping", "handling", "insurance")
SUBTRACTS = ("shipping_discount", "discount")
#: Issues that make the request malformed (400) rather than unprocessable (422).
SCHEMA_ISSUES = frozenset(
    {"INVALID_PARAMETER_VALUE", "MISSING_REQUIRED_PARAMETER", "INVALID_STRING_LENGTH"}
)


class Issues:
    """The problems found in one request body."""

    def __init__(self):
        self.details: list[dict] = []

    def add(self, field: str, issue: str, description: str) -> None:
        """Record one problem at a JSON pointer-ish ``field``."""
        self.details.append(
            {"field": field, "location": "body", "issue": issue, "description": description}
        )

    def raise_if_any(self) -> None:
        """Raise PayPal's error for what was found (400 if any is a schema problem)."""
        if not self.details:
            return
        if any(detail["issue"] in SCHEMA_ISSUES for detail in self.details):
            raise SimulatorError(
                400,
                "INVALID_REQUEST",
                "Request is not well-formed, syntactically incorrect, or violates schema.",
                self.details,
            )
        raise SimulatorError(
            422,
            "UNPROCESSABLE_ENTITY",
            "The requested action could not be performed, semantically incorrect, or failed "
            "business validation.",
            self.details,
        )


def read_money(value, field: str, currency: str | None, issues: Issues) -> Decimal | None:
    """Check a money object ({currency_code, value}); return its value or None."""
    if not isinstance(value, dict):
        issues.add(field, "MISSING_REQUIRED_PARAMETER", "A money object is required.")
        return None
    code, text = value.get("currency_code"), value.get("value")
    if code not in PAYPAL_CURRENCIES:
        issues.add(f"{field}/currency_code", "CURRENCY_NOT_SUPPORTED", "Currency not supported.")
        return None
    if currency is not None and code != currency:
        issues.add(
            f"{field}/currency_code",
            "CURRENCY_MISMATCH",
            "Should be same as the currency code of the amount.",
        )
        return None
    if not isinstance(text, str) or not DECIMAL_VALUE.match(text):
        issues.add(f"{field}/value", "INVALID_PARAMETER_VALUE", "Must be a string like 10.00.")
        return None
    decimals = len(text.partition(".")[2])
    if decimals > (0 if code in WHOLE_UNIT_CURRENCIES else 2):
        issues.add(
            f"{field}/value",
            "DECIMAL_PRECISION",
            f"{code} does not support this many decimals.",
        )
        return None
    return Decimal(text)


def validate_order_body(body) -> None:
    """Check a create-order body the way PayPal does; raise its error with every issue."""
    issues = Issues()
    if not isinstance(body, dict):
        raise SimulatorError(
            400,
            "INVALID_REQUEST",
            "Request is not well-formed.",
            [{"issue": "MALFORMED_REQUEST_JSON"}],
        )
    if body.get("intent") != "CAPTURE":
        issues.add("/intent", "INVALID_PARAMETER_VALUE", "The simulator supports CAPTURE only.")
    context = ((body.get("payment_source") or {}).get("paypal") or {}).get("experience_context")
    context = context or body.get("application_context") or {}
    for name in ("return_url", "cancel_url"):
        url = context.get(name) if isinstance(context, dict) else None
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            issues.add(
                f"/payment_source/paypal/experience_context/{name}",
                "INVALID_PARAMETER_VALUE",
                "Must be an absolute http(s) URL.",
            )
    units = body.get("purchase_units")
    if not isinstance(units, list) or len(units) != 1 or not isinstance(units[0], dict):
        issues.add("/purchase_units", "INVALID_PARAMETER_VALUE", "Exactly one purchase unit.")
    else:
        _validate_unit(units[0], issues)
    issues.raise_if_any()


def _validate_unit(unit: dict, issues: Issues) -> None:
    where = "/purchase_units/@reference_id=='default'"
    for name in ("invoice_id", "reference_id", "custom_id", "description"):
        value = unit.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 127):
            issues.add(f"{where}/{name}", "INVALID_STRING_LENGTH", "At most 127 characters.")
    amount = unit.get("amount")
    total = read_money(amount, f"{where}/amount", None, issues)
    if total is None:
        return
    currency = amount["currency_code"]
    if total <= 0:
        issues.add(f"{where}/amount/value", "INVALID_PARAMETER_VALUE", "Must be above zero.")
    breakdown = amount.get("breakdown")
    parts = {}
    if breakdown is not None:
        if not isinstance(breakdown, dict):
            issues.add(f"{where}/amount/breakdown", "INVALID_PARAMETER_VALUE", "An object.")
            return
        for name, value in breakdown.items():
            if name not in ADDS + SUBTRACTS:
                issues.add(
                    f"{where}/amount/breakdown/{name}", "INVALID_PARAMETER_VALUE", "Unknown."
                )
                continue
            parts[name] = read_money(value, f"{where}/amount/breakdown/{name}", currency, issues)
        if None not in parts.values():
            added = sum((parts.get(name, Decimal(0)) for name in ADDS), Decimal(0))
            taken = sum((parts.get(name, Decimal(0)) for name in SUBTRACTS), Decimal(0))
            if added - taken != total:
                issues.add(
                    f"{where}/amount/value",
                    "AMOUNT_MISMATCH",
                    "Should equal item_total + tax_total + shipping + handling + insurance - "
                    "shipping_discount - discount.",
                )
    items = unit.get("items")
    if items is None:
        return
    if not isinstance(items, list) or not items:
        issues.add(f"{where}/items", "INVALID_PARAMETER_VALUE", "A list of items.")
        return
    if "item_total" not in parts:
        issues.add(
            f"{where}/amount/breakdown/item_total",
            "ITEM_TOTAL_REQUIRED",
            "If item details are specified, breakdown.item_total is required.",
        )
        return
    item_sum = Decimal(0)
    for index, item in enumerate(items):
        field = f"{where}/items/@index={index}"
        if not isinstance(item, dict):
            issues.add(field, "INVALID_PARAMETER_VALUE", "An object.")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not name or len(name) > 127:
            issues.add(f"{field}/name", "MISSING_REQUIRED_PARAMETER", "1 to 127 characters.")
        quantity = item.get("quantity")
        if not isinstance(quantity, str) or not quantity.isdigit() or int(quantity) < 1:
            issues.add(f"{field}/quantity", "INVALID_PARAMETER_VALUE", "A positive whole number.")
            continue
        price = read_money(item.get("unit_amount"), f"{field}/unit_amount", currency, issues)
        if price is not None:
            item_sum += price * int(quantity)
    if parts.get("item_total") is not None and item_sum != parts["item_total"]:
        issues.add(
            f"{where}/amount/breakdown/item_total/value",
            "ITEM_TOTAL_MISMATCH",
            "Should equal sum of (unit_amount * quantity) across all items.",
        )
