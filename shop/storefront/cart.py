"""The shopping cart: pack SKUs and quantities kept in the visitor's signed session.

The cart holds no prices: they are read from the catalog whenever it is shown, and copied into
the order when it is placed.
"""

from flask import session

CART_KEY = "cart"
PROMOTION_KEY = "promotion_code"
#: The card a visitor came to top up (an alert's link) before choosing a pack.
TOPUP_CARD_KEY = "topup_card"
#: Most distinct packs a cart can hold (the cookie stays small).
MAX_LINES = 20


class CartError(ValueError):
    """A cart change that cannot be made; ``reason`` picks the message."""

    def __init__(self, reason: str, **facts):
        super().__init__(reason)
        self.reason = reason
        self.facts = facts


def items() -> dict[str, int]:
    """Return the cart as SKU -> quantity (ignoring anything malformed in the session)."""
    raw = session.get(CART_KEY)
    if not isinstance(raw, dict):
        return {}
    return {
        sku: quantity
        for sku, quantity in raw.items()
        if isinstance(sku, str) and isinstance(quantity, int) and quantity > 0
    }


def _save(cart: dict[str, int]) -> None:
    session[CART_KEY] = cart
    session.modified = True


def add(sku: str, quantity: int, max_quantity: int) -> dict[str, int]:
    """Add ``quantity`` of a pack; the total of one pack is capped at ``max_quantity``."""
    cart = items()
    if sku not in cart and len(cart) >= MAX_LINES:
        raise CartError("too_many_lines", maximum=MAX_LINES)
    new_quantity = cart.get(sku, 0) + quantity
    if new_quantity > max_quantity:
        raise CartError("too_many", maximum=max_quantity)
    cart[sku] = new_quantity
    _save(cart)
    return cart


def set_quantity(sku: str, quantity: int, max_quantity: int) -> dict[str, int]:
    """Set a pack's quantity; zero removes it."""
    cart = items()
    if quantity > max_quantity:
        raise CartError("too_many", maximum=max_quantity)
    if quantity <= 0:
        cart.pop(sku, None)
    elif sku in cart:
        cart[sku] = quantity
    _save(cart)
    return cart


def remove(sku: str) -> dict[str, int]:
    """Take a pack out of the cart."""
    cart = items()
    cart.pop(sku, None)
    _save(cart)
    return cart


def fill(lines: dict[str, int]) -> None:
    """Replace the cart (ordering the same packs again)."""
    _save(dict(lines))


def clear() -> None:
    """Empty the cart and forget the promotion code."""
    session.pop(CART_KEY, None)
    session.pop(PROMOTION_KEY, None)
    session.pop(TOPUP_CARD_KEY, None)


def card_to_top_up() -> str:
    """Return the card number the visitor came to top up, if any (checked at checkout)."""
    number = session.get(TOPUP_CARD_KEY)
    return number if isinstance(number, str) else ""


def set_card_to_top_up(number: str) -> None:
    """Remember the card the visitor came to top up until checkout."""
    session[TOPUP_CARD_KEY] = number[:40]


def promotion_code() -> str:
    """Return the promotion code the visitor applied, if any."""
    code = session.get(PROMOTION_KEY)
    return code if isinstance(code, str) else ""


def set_promotion_code(code: str) -> None:
    """Remember (or, with an empty code, forget) the promotion code."""
    if code:
        session[PROMOTION_KEY] = code
    else:
        session.pop(PROMOTION_KEY, None)
