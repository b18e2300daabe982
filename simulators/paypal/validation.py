"""Checks of a create-payment body, as PayPal makes them (amounts with Decimal).

Independent of the shop's money helpers on purpose: a formatting bug in the shop is caught here
as PayPal would catch it.
"""

import re
from decimal import Decimal
from urllib.parse import urlsplit

from simulators.paypal.errors import SimulatorError

#: Currencies PayPal accepts, and those it takes without decimals.
PAYPAL_CURRENCIES = frozenset(
    {"AUD", "BRL", "CAD", "CNY", "CZK", "DKK", "EUR", "HKD", "HUF", "ILS", "JPY", "MYR", "MXN"}
    | {"TWD", "NZD", "NOK", "PHP", "PLN", "GBP", "RUB", "SGD", "SEK", "CHF", "THB", "USD"}
)
WHOLE_UNIT_CURRENCIES = frozenset({"HUF", "JPY", "TWD"})
DECIMAL_AMOUNT = re.compile(r"^-?\d{1,7}\.\d{2}$", re.ASCII)
WHOLE_AMOUNT = re.compile(r"^-?\d{1,9}$", re.ASCII)
DETAIL_ADDS = ("subtotal", "shipping", "tax", "handling_fee", "insurance")
DETAIL_SUBTRACTS = ("shipping_discount",)


def validate_payment_body(body) -> None:
    """Check a create-payment body the way PayPal does; raise VALIDATION_ERROR with details."""
    issues = []

    def issue(field_name, text):
        issues.append({"field": field_name, "issue": text})

    if not isinstance(body, dict):
        raise SimulatorError(400, "MALFORMED_REQUEST", "Incoming JSON request is malformed.")
    if body.get("intent") != "sale":
        issue("intent", "The simulator supports intent sale only")
    payer = body.get("payer")
    if not isinstance(payer, dict) or payer.get("payment_method") != "paypal":
        issue("payer.payment_method", "Must be paypal")
    urls = body.get("redirect_urls")
    for name in ("return_url", "cancel_url"):
        value = urls.get(name) if isinstance(urls, dict) else None
        if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
            issue(f"redirect_urls.{name}", "Must be an absolute http(s) URL")
    transactions = body.get("transactions")
    if not isinstance(transactions, list) or len(transactions) != 1:
        issue("transactions", "Exactly one transaction is supported")
    else:
        _validate_transaction(transactions[0], issue)
    if issues:
        raise SimulatorError(400, "VALIDATION_ERROR", "Invalid request - see details", issues)


def _validate_transaction(transaction, issue) -> None:
    amount = transaction.get("amount") if isinstance(transaction, dict) else None
    if not isinstance(amount, dict):
        issue("transactions[0].amount", "Required")
        return
    currency = amount.get("currency")
    if currency not in PAYPAL_CURRENCIES:
        issue("transactions[0].amount.currency", "Currency is not supported")
        return
    pattern = WHOLE_UNIT_CURRENCIES if currency in WHOLE_UNIT_CURRENCIES else ()
    amount_format = WHOLE_AMOUNT if pattern else DECIMAL_AMOUNT

    def money(text, where, negative_ok=False):
        if not isinstance(text, str) or not amount_format.match(text):
            issue(where, f"Currency amount must be a string like {'10' if pattern else '10.00'}")
            return None
        value = Decimal(text)
        if value < 0 and not negative_ok:
            issue(where, "Must not be negative")
            return None
        return value

    total = money(amount.get("total"), "transactions[0].amount.total")
    if total is not None and total <= 0:
        issue("transactions[0].amount.total", "Must be greater than zero")
    details = amount.get("details") or {}
    subtotal = None
    if details:
        parts = {k: money(details[k], f"amount.details.{k}") for k in details}
        if None not in parts.values() and total is not None:
            added = sum((parts.get(k, Decimal(0)) for k in DETAIL_ADDS), Decimal(0))
            taken = sum((parts.get(k, Decimal(0)) for k in DETAIL_SUBTRACTS), Decimal(0))
            if added - taken != total:
                issue("transactions[0].amount", "Transaction amount details do not add up to total")
        subtotal = parts.get("subtotal")
    items = (transaction.get("item_list") or {}).get("items") or []
    if items:
        item_sum = Decimal(0)
        for index, item in enumerate(items):
            where = f"transactions[0].item_list.items[{index}]"
            price = money(item.get("price"), f"{where}.price", negative_ok=True)
            quantity = item.get("quantity")
            if not isinstance(quantity, str) or not quantity.isdigit() or int(quantity) < 1:
                issue(f"{where}.quantity", "Must be a positive whole number")
                continue
            if item.get("currency") != currency:
                issue(f"{where}.currency", "Must match the transaction currency")
            if not item.get("name"):
                issue(f"{where}.name", "Required")
            if price is not None:
                item_sum += price * int(quantity)
        expected = subtotal if subtotal is not None else total
        if expected is not None and item_sum != expected:
            issue(
                "transactions[0].item_list",
                "Item amount must add up to specified amount subtotal (or total if amount "
                "details not specified)",
            )
