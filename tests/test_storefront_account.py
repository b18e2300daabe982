"""The registered customer's pages: saved cards (add, refuse, remove, see) and order history."""

from datetime import timedelta

from shop.cards import services as card_services
from shop.cards.models import Card, TopUpSource
from shop.db import begin_write
from shop.extensions import db
from shop.storefront import orders
from shop.storefront.models import Delivery, OrderStatus, SavedCard
from shop.timeutil import utcnow
from tests.factories import iccid, make_card, make_product, make_user


def saved_rows() -> list[SavedCard]:
    db.session.rollback()
    return db.session.execute(db.select(SavedCard).order_by(SavedCard.id)).scalars().all()


def owner_of(card) -> int | None:
    db.session.rollback()
    return db.session.get(Card, card.id).owner_id


def spaced(number: str) -> str:
    """Write an ICCID in groups of four, as printed on a SIM card holder."""
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def test_a_customer_saves_a_card_typed_in_any_accepted_spelling(app, client, login):
    user = login("customer")
    card = make_card()
    phone = make_card("+85291234567")

    response = client.post("/account/cards", data={"number": spaced(card.number), "label": "Trip"})
    assert response.status_code == 303
    response = client.post("/account/cards", data={"number": "+852 9123-4567", "label": ""})
    assert response.status_code == 303
    assert [(row.user_id, row.card_id, row.label) for row in saved_rows()] == [
        (user.id, card.id, "Trip"),
        (user.id, phone.id, ""),
    ]
    assert owner_of(card) == user.id and owner_of(phone) == user.id

    page = client.get("/account/cards").get_data(as_text=True)
    assert "Card saved." in page
    assert "Trip" in page and card.number in page and "+85291234567" in page

    for again in (card.number, "-".join(spaced(card.number).split())):
        response = client.post("/account/cards", data={"number": again})
        assert response.status_code == 422, again
        assert "This card is already in your account." in response.get_data(as_text=True)
    assert len(saved_rows()) == 2


def test_a_card_that_cannot_be_saved_is_explained_and_nothing_is_saved(app, client, login):
    login("customer")
    someone = make_user("customer")
    theirs = make_card(owner=someone)
    good = iccid(777)
    cases = [
        ("1234", "An ICCID has 18 to 22 digits."),
        (good[:-1] + str((int(good[-1]) + 1) % 10), "check digit is wrong"),
        ("+12", "A phone number is + and 8 to 15 digits, country code first."),
        ("8944abc", "An ICCID has only digits; a phone number starts with +."),
        ("", "This field is required."),
        (good, "We do not know this card. Check the number on the SIM card holder."),
        (theirs.number, "This card belongs to another account. Contact support if it is yours."),
    ]
    for number, message in cases:
        response = client.post("/account/cards", data={"number": number})
        assert response.status_code == 422, number
        assert message in response.get_data(as_text=True), number
    assert saved_rows() == []
    assert owner_of(theirs) == someone.id


def test_removing_a_saved_card_gives_up_its_ownership_so_another_customer_can_save_it(
    app, client, login
):
    login("customer")
    card = make_card()
    client.post("/account/cards", data={"number": card.number})
    (saved,) = saved_rows()
    response = client.post(f"/account/cards/{saved.id}/remove")
    assert response.status_code == 303
    assert saved_rows() == []
    assert owner_of(card) is None
    assert "Card removed from your account." in client.get("/account/cards").get_data(as_text=True)

    assert client.post("/logout").status_code == 302
    newcomer = login("customer")  # the same browser, now another customer
    response = client.post("/account/cards", data={"number": card.number})
    assert response.status_code == 303
    assert [row.user_id for row in saved_rows()] == [newcomer.id]
    assert owner_of(card) == newcomer.id


def test_another_customers_saved_card_is_not_found(app, client, login):
    someone = make_user("customer")
    card = make_card()
    from shop.audit.services import Actor
    from shop.storefront import saved_cards

    theirs = saved_cards.save_card(someone.id, card.number, "Theirs", Actor(label="t"))
    theirs_id = theirs.id
    login("customer")
    assert client.get(f"/account/cards/{theirs_id}").status_code == 404
    assert client.post(f"/account/cards/{theirs_id}/remove").status_code == 404
    assert client.get("/account/cards/999999").status_code == 404
    assert client.get("/account/cards/99999999999999999999").status_code == 404
    assert client.get("/account/cards/abc").status_code == 404
    assert "Theirs" not in client.get("/account/cards").get_data(as_text=True)
    assert len(saved_rows()) == 1 and owner_of(card) == someone.id


def test_the_card_page_shows_balance_expiry_and_top_up_history(app, client, login):
    user = login("customer")
    card = make_card(owner=user)
    pack = make_product(name="Asia 10 GB", data_mb=10240, validity_days=30)
    other_pack = make_product(name="Europe 1 GB", data_mb=1024, validity_days=7)
    begin_write(db.session)
    now = utcnow().replace(microsecond=0)
    for product, source, when in (
        (pack, TopUpSource.ORDER, now - timedelta(days=2)),
        (other_pack, TopUpSource.VOUCHER, now - timedelta(days=1)),
    ):
        locked = card_services.lock_card(card.number)
        card_services.apply_pack(
            locked,
            card_services.PackGrant.of_product(product),
            source=source,
            channel="web",
            reference="WD-TEST",
            now=when,
        )
    db.session.commit()
    client.post("/account/cards", data={"number": card.number, "label": "Travel eSIM"})
    (saved,) = saved_rows()

    page = client.get(f"/account/cards/{saved.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Travel eSIM" in text and card.number in text
    assert "11 GB" in text  # 10 GB + 1 GB
    expiry = (now - timedelta(days=2) + timedelta(days=37)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'datetime="{expiry}"' in text
    assert "Asia 10 GB" in text and "Europe 1 GB" in text
    assert "Online order" in text and "PIN voucher" in text
    assert text.index("Europe 1 GB") < text.index("Asia 10 GB"), "newest first"
    listing = client.get("/account/cards").get_data(as_text=True)
    assert "11 GB" in listing and f'datetime="{expiry}"' in listing


def test_order_history_lists_only_the_customers_own_orders_with_their_status(app, client, login):
    user = login("customer")
    someone = make_user("customer")
    pack = make_product(price=1000, name="Asia 10 GB")

    def place(owner):
        return orders.place_order(
            orders.CheckoutRequest(
                items={pack.sku: 2}, email=owner.email, delivery=Delivery.VOUCHERS, user_id=owner.id
            )
        )

    pending, cancelled, fulfilled = place(user), place(user), place(user)
    theirs = place(someone)
    guest = orders.place_order(
        orders.CheckoutRequest(items={pack.sku: 1}, email=user.email, delivery=Delivery.VOUCHERS)
    )
    orders.cancel_order(cancelled)
    fulfilled.status = OrderStatus.FULFILLED
    db.session.commit()
    references = (pending.reference, cancelled.reference, fulfilled.reference)
    not_mine = (theirs.reference, guest.reference)

    page = client.get("/account/orders")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for reference in references:
        assert reference in text
    for reference in not_mine:
        assert reference not in text, "another customer's or a guest order"
    for status in ("Waiting for payment", "Cancelled", "Completed"):
        assert status in text
    assert "2 × Asia 10 GB" in text and "$20.00" in text


def test_account_pages_send_anonymous_visitors_to_log_in(app, client):
    for path in ("/account/orders", "/account/cards", "/account/cards/1"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/login" in response.headers["Location"], path
    response = client.post("/account/cards", data={"number": iccid(5)})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post("/account/cards/1/remove").status_code == 302
    assert saved_rows() == []


def test_simultaneous_saves_of_one_card_by_one_customer_save_it_once(app):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from shop.audit.services import Actor
    from shop.storefront.saved_cards import SavedCardError, save_card

    user_id = make_user(role="customer").id
    number = make_card().number
    workers = 6
    barrier = threading.Barrier(workers)

    def save(_):
        with app.app_context():
            barrier.wait()
            try:
                save_card(user_id, number, "trip", Actor(label="test"))
            except SavedCardError as exc:
                return exc.reason
            finally:
                db.session.remove()
            return "saved"

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(save, range(workers)))

    assert sorted(outcomes) == ["exists"] * (workers - 1) + ["saved"]
    assert len(saved_rows()) == 1
