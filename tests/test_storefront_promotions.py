"""Promotion codes under attack: every refusal, the arithmetic, giving a use back, and a race.

Each refusal is checked three ways: by the pricing service (``orders.quote_cart``), on the cart
page (``POST /cart/promotion``) and at checkout (``POST /checkout``), where a refused code must
leave no order behind and hold no use of the promotion.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from shop.extensions import db
from shop.storefront import orders
from shop.storefront.models import (
    Delivery,
    Order,
    OrderStatus,
    Promotion,
    PromotionKind,
    PromotionUse,
)
from shop.timeutil import utcnow
from tests.factories import make_product
from tests.storefront_helpers import BUYER, add_to_cart, order_by_path, place_order

MESSAGES = {
    "unknown": "There is no promotion with this code. Check the spelling.",
    "inactive": "This promotion code is no longer valid.",
    "not_started": "This promotion has not started yet.",
    "expired": "This promotion code has expired.",
    "exhausted": "This promotion code has been used up.",
    "customer_limit": "You have already used this promotion code.",
    "currency": "This promotion code is for another currency.",
    "not_applicable": "This promotion code does not apply to the packs in your cart.",
    "below_minimum": "This promotion code needs an order of at least $50.00.",
}


def make_promotion(code, *, products=(), **values) -> Promotion:
    data = {"kind": PromotionKind.PERCENT, "percent_bps": 1000, "currency": "USD"}
    data.update(values)
    promotion = Promotion(code=code, **data)
    promotion.products = list(products)
    db.session.add(promotion)
    db.session.commit()
    return promotion


def order_count() -> int:
    db.session.rollback()
    return db.session.execute(db.select(db.func.count(Order.id))).scalar_one()


def use_count() -> int:
    db.session.rollback()
    return db.session.execute(db.select(db.func.count(PromotionUse.id))).scalar_one()


def uses_of(code: str) -> int:
    db.session.rollback()
    return db.session.execute(db.select(Promotion.uses).filter_by(code=code)).scalar_one()


def place(items, *, code="", email=BUYER, user_id=None) -> Order:
    return orders.place_order(
        orders.CheckoutRequest(
            items=items,
            email=email,
            delivery=Delivery.VOUCHERS,
            promotion_code=code,
            user_id=user_id,
        )
    )


@pytest.fixture
def refusals(app):
    """A 10.00 USD pack in the cart and one promotion code for every reason to refuse it."""
    now = utcnow()
    pack = make_product(price=1000)
    other = make_product(price=2000)
    make_promotion("INACTIVE", active=False)
    make_promotion("NOTYET", valid_from=now + timedelta(days=1))
    make_promotion("EXPIRED", valid_until=now - timedelta(minutes=1))
    make_promotion("USEDUP", max_uses=2, uses=2)
    make_promotion("ONCEEACH", max_uses_per_customer=1)
    make_promotion(
        "EUROFF", kind=PromotionKind.AMOUNT, percent_bps=0, amount_off=300, currency="EUR"
    )
    make_promotion("OTHERPACK", products=[other])
    make_promotion("BIGSPEND", min_total=5000)
    place({pack.sku: 1}, code="ONCEEACH", email="Buyer@Example.COM")  # a guest used it already
    codes = {
        "unknown": "NOSUCHCODE",
        "inactive": "INACTIVE",
        "not_started": "NOTYET",
        "expired": "EXPIRED",
        "exhausted": "USEDUP",
        "customer_limit": "ONCEEACH",
        "currency": "EUROFF",
        "not_applicable": "OTHERPACK",
        "below_minimum": "BIGSPEND",
    }
    return pack, codes


def test_every_refusal_is_reported_by_the_pricing_service_with_no_discount(app, refusals):
    pack, codes = refusals
    for reason, code in codes.items():
        quote = orders.quote_cart({pack.sku: 1}, promotion_code=code.lower(), email=BUYER)
        assert quote.promotion_error is not None, reason
        assert quote.promotion_error.reason == reason, code
        assert (quote.discount, quote.total, quote.promotion) == (0, 1000, None), reason
    quote = orders.quote_cart({pack.sku: 1}, promotion_code="BIGSPEND")
    assert quote.promotion_error.facts == {"minimum": 5000}


def test_every_refusal_on_the_cart_page_is_explained_and_the_code_is_not_kept(
    app, client, refusals
):
    pack, codes = refusals
    add_to_cart(client, pack.sku, 1)
    for reason, code in codes.items():
        if reason == "customer_limit":
            continue  # a guest's e-mail is only known at checkout
        response = client.post("/cart/promotion", data={"code": f" {code.lower()} "})
        assert response.status_code == 422, reason
        assert MESSAGES[reason] in response.get_data(as_text=True), reason
        with client.session_transaction() as session:
            assert "promotion_code" not in session, reason
        page = client.get("/cart").get_data(as_text=True)
        assert "Discount" not in page, reason
    assert use_count() == 1


def test_every_refusal_at_checkout_places_no_order_and_holds_no_use(app, client, refusals):
    pack, codes = refusals
    add_to_cart(client, pack.sku, 1)
    before = (order_count(), use_count(), uses_of("ONCEEACH"), uses_of("USEDUP"))
    for reason, code in codes.items():
        response = client.post(
            "/checkout",
            data={"email": BUYER, "delivery": "vouchers", "promotion_code": code},
        )
        assert response.status_code == 422, reason
        assert MESSAGES[reason] in response.get_data(as_text=True), reason
    assert (order_count(), use_count(), uses_of("ONCEEACH"), uses_of("USEDUP")) == before
    with client.session_transaction() as session:
        assert session["cart"] == {pack.sku: 1}, "a refused checkout keeps the cart"


def test_the_minimum_of_a_refused_code_is_shown_in_the_carts_currency(app, client):
    pack = make_product(price=1000, currency="EUR")
    make_promotion(
        "EURBIG",
        kind=PromotionKind.AMOUNT,
        percent_bps=0,
        amount_off=500,
        currency="EUR",
        min_total=5000,
    )
    add_to_cart(client, pack.sku, 1)
    cart_page = client.post("/cart/promotion", data={"code": "EURBIG"})
    assert cart_page.status_code == 422
    assert "at least €50.00" in cart_page.get_data(as_text=True)
    response = client.post(
        "/checkout", data={"email": BUYER, "delivery": "vouchers", "promotion_code": "EURBIG"}
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "at least €50.00" in text
    assert "$50.00" not in text
    assert order_count() == 0


def test_a_minimum_total_in_one_currency_is_not_compared_with_a_cart_in_another(app):
    yen = make_product(price=6000, currency="JPY")  # 6,000 yen: about 40 dollars
    make_promotion("SPEND50", percent_bps=1000, currency="USD", min_total=5000)
    make_promotion("ANYWHERE", percent_bps=1000, currency="USD")
    quote = orders.quote_cart({yen.sku: 1}, promotion_code="SPEND50")
    assert quote.promotion_error.reason == "currency"
    assert quote.discount == 0
    quote = orders.quote_cart({yen.sku: 1}, promotion_code="ANYWHERE")
    assert (quote.discount, quote.total) == (600, 5400)


def test_a_guest_limit_counts_the_e_mail_address_whatever_its_case(app, refusals):
    pack, _codes = refusals
    for email in ("buyer@example.com", "  BUYER@example.com ", "Buyer@Example.COM"):
        quote = orders.quote_cart({pack.sku: 1}, promotion_code="ONCEEACH", email=email)
        assert quote.promotion_error.reason == "customer_limit", email
    with pytest.raises(orders.CheckoutError) as refused:
        place({pack.sku: 1}, code="ONCEEACH", email="BUYER@EXAMPLE.COM")
    assert refused.value.facts["error"].reason == "customer_limit"
    other = place({pack.sku: 1}, code="ONCEEACH", email="someone.else@example.com")
    assert other.discount == 100
    assert uses_of("ONCEEACH") == 2


def test_a_registered_customers_limit_counts_their_account_not_the_e_mail(app, client, login):
    user = login("customer")
    pack = make_product(price=1000)
    make_promotion("ONEPERUSER", max_uses_per_customer=1)
    place({pack.sku: 1}, code="ONEPERUSER", email="first@example.com", user_id=user.id)

    quote = orders.quote_cart(
        {pack.sku: 1}, promotion_code="ONEPERUSER", user_id=user.id, email="new@example.com"
    )
    assert quote.promotion_error.reason == "customer_limit"

    add_to_cart(client, pack.sku, 1)
    response = client.post("/cart/promotion", data={"code": "oneperuser"})
    assert response.status_code == 422
    assert MESSAGES["customer_limit"] in response.get_data(as_text=True)
    response = client.post(
        "/checkout",
        data={"email": "new@example.com", "delivery": "vouchers", "promotion_code": "ONEPERUSER"},
    )
    assert response.status_code == 422
    assert MESSAGES["customer_limit"] in response.get_data(as_text=True)
    assert order_count() == 1 and uses_of("ONEPERUSER") == 1


def test_a_deactivated_code_is_refused_but_orders_placed_before_keep_their_discount(app):
    pack = make_product(price=1000)
    promotion = make_promotion("SUMMER", percent_bps=2000)
    held = place({pack.sku: 1}, code="SUMMER")
    promotion.active = False
    db.session.commit()
    quote = orders.quote_cart({pack.sku: 1}, promotion_code="SUMMER", email=BUYER)
    assert quote.promotion_error.reason == "inactive"
    db.session.rollback()
    kept = db.session.get(Order, held.id)
    assert (kept.discount, kept.total, kept.promotion_id) == (200, 800, promotion.id)


def test_a_code_is_valid_from_its_start_and_until_just_before_its_end(app):
    pack = make_product(price=1000)
    start = utcnow().replace(microsecond=0)
    end = start + timedelta(days=2)
    make_promotion("WINDOW", valid_from=start, valid_until=end)

    def reason_at(moment):
        quote = orders.quote_cart({pack.sku: 1}, promotion_code="WINDOW", now=moment)
        return quote.promotion_error.reason if quote.promotion_error else quote.discount

    assert reason_at(start - timedelta(seconds=1)) == "not_started"
    assert reason_at(start) == 100
    assert reason_at(end - timedelta(seconds=1)) == 100
    assert reason_at(end) == "expired"


def test_a_percentage_rounds_down_to_whole_minor_units(app):
    pack = make_product(price=999)
    make_promotion("FIFTEEN", percent_bps=1500)  # 15 % of 9.99 is 1.4985
    make_promotion("THIRD", percent_bps=3333)
    quote = orders.quote_cart({pack.sku: 1}, promotion_code="FIFTEEN")
    assert quote.discount == 149 and isinstance(quote.discount, int)
    assert quote.total == 850
    quote = orders.quote_cart({pack.sku: 3}, promotion_code="THIRD")  # 33.33 % of 29.97
    assert (quote.subtotal, quote.discount, quote.total) == (2997, 998, 1999)
    order = place({pack.sku: 1}, code="FIFTEEN")
    assert (order.subtotal, order.discount, order.total) == (999, 149, 850)


def test_an_amount_off_never_exceeds_the_packs_it_applies_to(app):
    cheap = make_product(price=700)
    dear = make_product(price=2000)
    make_promotion(
        "CHEAPONLY", kind=PromotionKind.AMOUNT, percent_bps=0, amount_off=1500, products=[cheap]
    )
    make_promotion("HUGE", kind=PromotionKind.AMOUNT, percent_bps=0, amount_off=100_000)

    quote = orders.quote_cart({cheap.sku: 1, dear.sku: 1}, promotion_code="CHEAPONLY")
    assert (quote.subtotal, quote.discount, quote.total) == (2700, 700, 2000)
    quote = orders.quote_cart({cheap.sku: 3, dear.sku: 1}, promotion_code="CHEAPONLY")
    assert (quote.discount, quote.total) == (1500, 2600)

    quote = orders.quote_cart({dear.sku: 1}, promotion_code="HUGE")
    assert (quote.discount, quote.total) == (2000, 0)
    assert [problem.reason for problem in quote.problems] == ["below_minimum"]
    with pytest.raises(orders.CheckoutError) as refused:
        place({dear.sku: 1}, code="HUGE")
    assert refused.value.reason == "below_minimum"
    assert order_count() == 0 and uses_of("HUGE") == 0


def test_a_restricted_percentage_discounts_only_the_eligible_lines(app, client):
    europe = make_product(price=1500)
    asia = make_product(price=2500)
    make_promotion("EUROPE20", percent_bps=2000, products=[europe], min_total=2000)

    quote = orders.quote_cart({europe.sku: 2, asia.sku: 1}, promotion_code="EUROPE20")
    assert (quote.subtotal, quote.discount, quote.total) == (5500, 600, 4900)
    # the minimum counts the eligible packs only: 15.00 of Europe is not enough
    quote = orders.quote_cart({europe.sku: 1, asia.sku: 2}, promotion_code="EUROPE20")
    assert quote.promotion_error.reason == "below_minimum"

    add_to_cart(client, europe.sku, 2)
    add_to_cart(client, asia.sku, 1)
    order = order_by_path(place_order(client, promotion="europe20"))
    assert (order.subtotal, order.discount, order.total) == (5500, 600, 4900)
    assert uses_of("EUROPE20") == 1


def test_a_cancelled_order_gives_its_use_back_and_the_code_works_again(app, client):
    pack = make_product(price=1000)
    make_promotion("LASTONE", max_uses=1, max_uses_per_customer=1)
    add_to_cart(client, pack.sku, 1)
    order_path = place_order(client, promotion="LASTONE")
    first = order_by_path(order_path)
    assert first.discount == 100 and uses_of("LASTONE") == 1

    add_to_cart(client, pack.sku, 1)
    refused = client.post(
        "/checkout", data={"email": BUYER, "delivery": "vouchers", "promotion_code": "LASTONE"}
    )
    assert refused.status_code == 422
    assert MESSAGES["exhausted"] in refused.get_data(as_text=True)

    reference, key = first.reference, order_path.split("key=")[1]
    response = client.post(f"/orders/{reference}/cancel?key={key}")
    assert response.status_code == 303
    assert order_by_path(order_path).status == OrderStatus.CANCELLED
    assert uses_of("LASTONE") == 0 and use_count() == 0

    again = order_by_path(place_order(client, promotion="LASTONE"))
    assert again.status == OrderStatus.PENDING and again.discount == 100
    assert uses_of("LASTONE") == 1
    db.session.rollback()
    (use,) = db.session.execute(db.select(PromotionUse)).scalars().all()
    assert use.order_id == again.id

    cancel_path = f"/orders/{reference}/cancel?key={key}"
    assert client.post(cancel_path).status_code == 303  # cancelled already: gives nothing back
    assert uses_of("LASTONE") == 1 and use_count() == 1


THREADS = 8


@pytest.fixture
def app_config():
    return {
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": THREADS + 2, "max_overflow": 0},
    }


def test_eight_buyers_racing_for_the_last_use_only_one_gets_it(app):
    pack = make_product(price=1000)
    make_promotion("RACE", max_uses=1)
    sku = pack.sku
    barrier = threading.Barrier(THREADS)

    def attempt(number):
        with app.app_context():
            barrier.wait()
            try:
                return place({sku: 1}, code="RACE", email=f"racer{number}@example.com").reference
            except orders.CheckoutError as exc:
                return exc.facts["error"].reason if exc.reason == "promotion" else exc.reason
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(attempt, range(THREADS)))

    winners = [outcome for outcome in outcomes if outcome.startswith(orders.REFERENCE_PREFIX)]
    assert len(winners) == 1, outcomes
    assert sorted(set(outcomes) - set(winners)) == ["exhausted"], outcomes
    assert uses_of("RACE") == 1
    assert order_count() == 1
    (use,) = db.session.execute(db.select(PromotionUse)).scalars().all()
    order = db.session.execute(db.select(Order)).scalar_one()
    assert order.reference == winners[0] and use.order_id == order.id


def test_one_guest_racing_themself_for_a_once_per_customer_code_gets_it_once(app):
    pack = make_product(price=1000)
    make_promotion("ONCEONLY", max_uses_per_customer=1)
    sku = pack.sku
    barrier = threading.Barrier(THREADS)

    def attempt(number):
        email = "Same.Buyer@example.com" if number % 2 else "same.buyer@EXAMPLE.com"
        with app.app_context():
            barrier.wait()
            try:
                return place({sku: 1}, code="ONCEONLY", email=email).reference
            except orders.CheckoutError as exc:
                return exc.facts["error"].reason if exc.reason == "promotion" else exc.reason
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(attempt, range(THREADS)))

    winners = [outcome for outcome in outcomes if outcome.startswith(orders.REFERENCE_PREFIX)]
    assert len(winners) == 1, outcomes
    assert sorted(set(outcomes) - set(winners)) == ["customer_limit"], outcomes
    assert uses_of("ONCEONLY") == 1 and use_count() == 1 and order_count() == 1
