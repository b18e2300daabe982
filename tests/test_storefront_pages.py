"""The storefront's pages under bad input: cart, checkout, limits, order access, languages.

This module runs with small order limits (at most 5 packs, totals from 3.00 to 100.00) so that
every limit can be reached with a pack or two.
"""

import pytest

from shop.cards.models import CardStatus
from shop.catalog import services as catalog_services
from shop.extensions import db
from shop.storefront import orders
from shop.storefront.models import Delivery, Order, OrderStatus, Promotion, PromotionKind
from tests.factories import iccid, make_card, make_product, make_user
from tests.storefront_helpers import BUYER, add_to_cart, order_by_path, place_order

QUANTITY_MESSAGE = "Choose a quantity from 1 to 100."


@pytest.fixture
def app_config():
    return {"ORDER_MAX_QUANTITY": 5, "ORDER_MIN_TOTAL": 300, "ORDER_MAX_TOTAL": 10_000}


def cart_of(client) -> dict:
    with client.session_transaction() as session:
        return dict(session.get("cart", {}))


def order_count() -> int:
    db.session.rollback()
    return db.session.execute(db.select(db.func.count(Order.id))).scalar_one()


def checkout(client, **values):
    data = {"email": BUYER, "delivery": "vouchers", "card_number": "", "promotion_code": ""}
    data.update(values)
    return client.post("/checkout", data=data)


def test_a_buyer_adds_changes_and_removes_packs_and_the_header_counts_them(app, client):
    asia = make_product(price=1000, name="Asia 10 GB")
    europe = make_product(price=500, name="Europe 3 GB")
    for path in ("/", f"/packs/{asia.sku}"):
        page = client.get(path)
        assert page.status_code == 200, path
        text = page.get_data(as_text=True)
        assert 'action="/cart/add"' in text, path
        assert f'value="{asia.sku}"' in text, path
        assert "Add to cart" in text, path
        assert "cart-count" not in text, path

    add_to_cart(client, asia.sku, 2)
    page = client.get(f"/packs/{asia.sku}").get_data(as_text=True)
    assert '<span class="cart-count">(2)</span>' in page
    add_to_cart(client, europe.sku.lower(), 1)  # the SKU as typed in a URL
    assert cart_of(client) == {asia.sku: 2, europe.sku: 1}
    page = client.get("/cart").get_data(as_text=True)
    assert "Asia 10 GB" in page and "Europe 3 GB" in page
    assert '<span class="cart-count">(3)</span>' in page
    assert "$25.00" in page

    response = client.post("/cart/update", data={"sku": asia.sku, "quantity": "4"})
    assert response.status_code == 302
    assert cart_of(client) == {asia.sku: 4, europe.sku: 1}
    assert client.post("/cart/remove", data={"sku": asia.sku}).status_code == 302
    assert cart_of(client) == {europe.sku: 1}
    page = client.get("/").get_data(as_text=True)
    assert '<span class="cart-count">(1)</span>' in page


def test_a_bad_quantity_is_refused_with_a_message_and_changes_nothing(app, client):
    pack = make_product(price=1000)
    add_to_cart(client, pack.sku, 2)
    for quantity in ("0", "-1", "101", "two", "1.5", "", "99999999999999999999"):
        for action in ("/cart/add", "/cart/update"):
            response = client.post(action, data={"sku": pack.sku, "quantity": quantity})
            assert response.status_code == 302, (action, quantity)
            assert cart_of(client) == {pack.sku: 2}, (action, quantity)
            page = client.get(response.headers["Location"])
            assert page.status_code == 200
            assert QUANTITY_MESSAGE in page.get_data(as_text=True), (action, quantity)


def test_unknown_and_withdrawn_packs_are_not_sold(app, client):
    withdrawn = make_product(price=1000)
    catalog_services.set_product_active(withdrawn.id, False)
    for sku in ("NO-SUCH-PACK", withdrawn.sku, "x" * 41):
        response = client.post(
            "/cart/add", data={"sku": sku, "quantity": "1"}, follow_redirects=True
        )
        assert response.status_code == 200, sku
        text = response.get_data(as_text=True)
        assert "This pack is not on sale any more." in text or QUANTITY_MESSAGE in text, sku
        assert cart_of(client) == {}, sku

    # a pack withdrawn while it is in the cart is not sold
    kept = make_product(price=1000)
    withdrawn = make_product(price=2000)
    add_to_cart(client, kept.sku, 1)
    add_to_cart(client, withdrawn.sku, 1)
    catalog_services.set_product_active(withdrawn.id, False)
    client.get("/cart")  # shows (and so clears) the "in your cart" message
    page = client.get("/cart").get_data(as_text=True)
    assert withdrawn.name not in page and "$10.00" in page
    order = order_by_path(place_order(client))
    assert [line.sku for line in order.lines] == [kept.sku]
    assert order.total == 1000


def test_the_maximum_quantity_is_explained_in_the_cart_and_enforced_at_checkout(app, client):
    asia = make_product(price=500)
    europe = make_product(price=500)
    add_to_cart(client, asia.sku, 4)
    response = client.post(
        "/cart/add", data={"sku": asia.sku, "quantity": "2"}, follow_redirects=True
    )
    assert "At most 5 packs can be bought in one order." in response.get_data(as_text=True)
    assert cart_of(client) == {asia.sku: 4}
    response = client.post(
        "/cart/update", data={"sku": asia.sku, "quantity": "6"}, follow_redirects=True
    )
    assert "At most 5 packs can be bought in one order." in response.get_data(as_text=True)
    assert cart_of(client) == {asia.sku: 4}

    add_to_cart(client, europe.sku, 2)  # six packs in all, over two lines
    page = client.get("/cart").get_data(as_text=True)
    assert "At most 5 packs can be bought in one order." in page
    assert "Go to checkout" not in page
    response = checkout(client)
    assert response.status_code == 422
    assert "At most 5 packs can be bought in one order." in response.get_data(as_text=True)
    assert order_count() == 0


def test_order_totals_outside_the_limits_are_explained_and_refused(app, client):
    cases = [
        (200, 1, "The minimum order total is $3.00."),
        (4000, 3, "The maximum order total is $100.00. Split it into several orders."),
    ]
    for price, quantity, message in cases:
        pack = make_product(price=price)
        add_to_cart(client, pack.sku, quantity)
        assert message in client.get("/cart").get_data(as_text=True), price
        page = client.get("/checkout")
        assert page.status_code == 200 and message in page.get_data(as_text=True), price
        response = checkout(client)
        assert response.status_code == 422, price
        assert message in response.get_data(as_text=True), price
        client.post("/cart/remove", data={"sku": pack.sku})
    assert order_count() == 0

    # a discount that takes the total below the minimum is refused too, holding no use
    pack = make_product(price=400)
    db.session.add(Promotion(code="HALF", kind=PromotionKind.PERCENT, percent_bps=5000))
    db.session.commit()
    add_to_cart(client, pack.sku, 1)
    response = checkout(client, promotion_code="HALF")
    assert response.status_code == 422
    assert "The minimum order total is $3.00." in response.get_data(as_text=True)
    assert order_count() == 0
    assert db.session.execute(db.select(Promotion.uses)).scalar_one() == 0


def test_checkout_refuses_bad_details_with_the_right_message_and_no_order(app, client):
    pack = make_product(price=1000)
    suspended = make_card(status=CardStatus.SUSPENDED)
    good = iccid(424242)
    wrong_digit = good[:-1] + str((int(good[-1]) + 1) % 10)
    cases = [
        ({"email": ""}, "Type your e-mail address."),
        ({"email": "not-an-address"}, "This is not a valid e-mail address."),
        ({"email": "a@b"}, "This is not a valid e-mail address."),
        ({"delivery": "topup", "card_number": "  "}, "Type the number of the card to top up."),
        ({"delivery": "nonsense"}, "Not a valid choice"),
        (
            {"delivery": "topup", "card_number": wrong_digit},
            "The ICCID&#39;s check digit is wrong; check for a mistyped digit.",
        ),
        ({"delivery": "topup", "card_number": "12ab"}, "An ICCID has only digits"),
        (
            {"delivery": "topup", "card_number": good},
            "We do not know this card. Check the number on the SIM card holder.",
        ),
        (
            {"delivery": "topup", "card_number": suspended.number},
            "This card is suspended and cannot be topped up. Contact support.",
        ),
    ]
    add_to_cart(client, pack.sku, 1)
    for values, message in cases:
        response = checkout(client, **values)
        assert response.status_code == 422, values
        assert message in response.get_data(as_text=True), values
    assert order_count() == 0
    assert cart_of(client) == {pack.sku: 1}


def test_packs_in_two_currencies_cannot_be_bought_together(app, client):
    dollars = make_product(price=1000, currency="USD")
    euros = make_product(price=1000, currency="EUR")
    add_to_cart(client, dollars.sku, 1)
    add_to_cart(client, euros.sku, 1)
    message = "Packs priced in different currencies cannot be bought in one order."
    page = client.get("/cart")
    assert page.status_code == 200
    assert message in page.get_data(as_text=True)
    assert client.get("/checkout").status_code == 200
    response = checkout(client)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert order_count() == 0


def _login(client, user):
    response = client.post("/login", data={"email": user.email, "password": "correct-horse-9"})
    assert response.status_code == 302


def test_an_order_page_opens_only_for_its_owner_its_link_and_admins(app, client):
    pack = make_product(price=1000)
    owner = make_user("customer")
    other = make_user("customer")
    admin = make_user("admin")
    add_to_cart(client, pack.sku, 1)
    guest_path = place_order(client)
    guest = order_by_path(guest_path)
    key = guest_path.split("key=")[1]
    registered = orders.place_order(
        orders.CheckoutRequest(
            items={pack.sku: 1}, email=owner.email, delivery=Delivery.VOUCHERS, user_id=owner.id
        )
    )
    registered_key = orders.order_link_key(registered)

    stranger = app.test_client()
    assert stranger.get(guest_path).status_code == 200
    assert stranger.get(f"/orders/{guest.reference.lower()}?key={key}").status_code == 200
    for path in (
        f"/orders/{guest.reference}",
        f"/orders/{guest.reference}?key=",
        f"/orders/{guest.reference}?key=nonsense",
        f"/orders/{guest.reference}?key={key[:-2]}xx",
        f"/orders/{guest.reference}?key={registered_key}",  # another order's link
        "/orders/WD-0000000000",
        f"/orders/WD-0000000000?key={key}",
        "/orders/not-a-reference",
        f"/orders/{registered.reference}",
    ):
        assert stranger.get(path).status_code == 404, path
    assert stranger.post(f"/orders/{guest.reference}/cancel").status_code == 404
    assert stranger.post(f"/orders/{registered.reference}/pay").status_code == 404

    owner_client, other_client, admin_client = (app.test_client() for _ in range(3))
    _login(owner_client, owner)
    _login(other_client, other)
    _login(admin_client, admin)
    assert owner_client.get(f"/orders/{registered.reference}").status_code == 200
    assert owner_client.get(f"/orders/{guest.reference}").status_code == 404
    assert other_client.get(f"/orders/{registered.reference}").status_code == 404
    assert other_client.post(f"/orders/{registered.reference}/cancel").status_code == 404
    assert admin_client.get(f"/orders/{registered.reference}").status_code == 200
    assert admin_client.get(f"/orders/{guest.reference}").status_code == 200
    assert order_by_path(f"/orders/{registered.reference}").status == OrderStatus.PENDING


def test_the_vouchers_pdf_exists_only_for_a_fulfilled_order(app, client):
    pack = make_product(price=1000)
    add_to_cart(client, pack.sku, 1)
    order_path = place_order(client)
    pdf_path = order_path.replace("?", "/vouchers.pdf?")
    assert client.get(pdf_path).status_code == 404
    assert client.get(pdf_path + "&format=receipt").status_code == 404
    order = order_by_path(order_path)
    order.status = OrderStatus.FULFILLED  # as if paid, with no vouchers issued yet
    db.session.commit()
    assert client.get(pdf_path + "&format=bad").status_code == 400
    assert client.get(pdf_path + "&format=a4").status_code == 404
    assert client.get(pdf_path.split("?")[0]).status_code == 404  # no key


def test_the_checkout_page_shows_the_order_confirmation_before_paying(app, client):
    asia = make_product(
        price=1500, name="Asia 10 GB", data_mb=10240, validity_days=30, coverage=["TH", "VN"]
    )
    europe = make_product(
        price=999, name="Europe 3 GB", data_mb=3072, validity_days=7, coverage=["DE", "FR"]
    )
    db.session.add(Promotion(code="TRAVEL10", kind=PromotionKind.PERCENT, percent_bps=1000))
    db.session.commit()
    add_to_cart(client, asia.sku, 2)
    add_to_cart(client, europe.sku, 1)
    assert client.post("/cart/promotion", data={"code": "travel10"}).status_code == 302

    page = client.get("/checkout")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for fact in (
        "Asia 10 GB", "10 GB", "30 days", "TH, VN", "$30.00",
        "Europe 3 GB", "3 GB", "7 days", "DE, FR", "$9.99",
        "$39.99", "Discount (TRAVEL10)", "−$3.99", "$36.00",
        "PayPal", 'name="email"', 'value="TRAVEL10"', 'value="topup"',
    ):  # fmt: skip
        assert fact in text, fact
    assert '<td class="num">2</td>' in text and '<td class="num">1</td>' in text

    order_path = place_order(client, promotion="TRAVEL10")
    page = client.get(order_path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for fact in (
        "Confirm and pay", "Waiting for payment", "Pay $36.00 with PayPal", "Cancel order",
        "Asia 10 GB", "30 days", "TH, VN", "Discount (TRAVEL10)", BUYER,
    ):  # fmt: skip
        assert fact in text, fact
    assert "/pay?key=" in text


def test_checkout_and_order_pages_render_in_simplified_chinese(app, client):
    pack = make_product(price=1500, name="Asia 10 GB", data_mb=10240, validity_days=30)
    add_to_cart(client, pack.sku, 2)
    assert client.get("/lang/zh_Hans_CN").status_code == 302
    page = client.get("/checkout")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert '<html lang="zh-Hans">' in text and "流量包" in text
    assert "US$30.00" in text
    order_path = place_order(client)
    page = client.get(order_path)
    assert page.status_code == 200
    assert '<html lang="zh-Hans">' in page.get_data(as_text=True)
    assert order_by_path(order_path).locale == "zh_Hans_CN"

    browser = app.test_client()
    headers = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
    add_to_cart(browser, pack.sku, 1)
    for path in ("/cart", "/checkout", order_path):
        page = browser.get(path, headers=headers)
        assert page.status_code == 200, path
        assert '<html lang="zh-Hans">' in page.get_data(as_text=True), path
    response = browser.post("/checkout", data={"email": "bad"}, headers=headers)
    assert response.status_code == 422
