"""The operator's storefront pages: promotion codes, orders, and expiring unpaid orders."""

from datetime import UTC, datetime, timedelta

from shop.audit.models import AuditEvent
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

PERCENT_FORM = {
    "code": "spring-25",
    "description": "Spring in Asia",
    "kind": "percent",
    "percent": "12.5",
    "amount_off": "",
    "currency": "USD",
    "min_total": "20",
    "valid_from": "2030-03-01T00:00",
    "valid_until": "2030-06-01T12:30",
    "max_uses": "100",
    "max_uses_per_customer": "2",
}
CODE_MESSAGE = "3 to 32 letters, digits, &#39;-&#39; or &#39;_&#39;, not used by another promotion."


def promotions() -> list[Promotion]:
    db.session.rollback()
    return db.session.execute(db.select(Promotion).order_by(Promotion.id)).scalars().all()


def place(pack, email="buyer@example.com", code="") -> Order:
    return orders.place_order(
        orders.CheckoutRequest(
            items={pack.sku: 1}, email=email, delivery=Delivery.VOUCHERS, promotion_code=code
        )
    )


def test_an_admin_creates_percentage_and_amount_codes_with_their_terms(app, client, login):
    admin = login("admin")
    asia = make_product(sku="ASIA-10")
    make_product(sku="EU-5")
    form = client.get("/admin/promotions/new")
    assert form.status_code == 200 and "ASIA-10" in form.get_data(as_text=True)

    response = client.post("/admin/promotions/new", data={**PERCENT_FORM, "skus": ["ASIA-10"]})
    assert response.status_code == 303
    (promotion,) = promotions()
    assert response.headers["Location"].endswith(f"/admin/promotions/{promotion.id}")
    assert promotion.code == "SPRING-25"
    assert (promotion.kind, promotion.percent_bps, promotion.amount_off) == (
        PromotionKind.PERCENT,
        1250,
        0,
    )
    assert (promotion.min_total, promotion.currency) == (2000, "USD")
    assert promotion.valid_from == datetime(2030, 3, 1, tzinfo=UTC)
    assert promotion.valid_until == datetime(2030, 6, 1, 12, 30, tzinfo=UTC)
    assert (promotion.max_uses, promotion.max_uses_per_customer) == (100, 2)
    assert [product.id for product in promotion.products] == [asia.id]
    assert promotion.active and promotion.uses == 0 and promotion.created_by_id == admin.id
    event = db.session.execute(
        db.select(AuditEvent).filter_by(action="promotion.created")
    ).scalar_one()
    assert event.object_id == "SPRING-25"

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Promotion SPRING-25 created." in page
    assert "12.5 % off" in page and "only ASIA-10" in page and "0 / 100" in page
    assert "SPRING-25" in client.get("/admin/promotions").get_data(as_text=True)

    # an amount off, in another currency, for every pack, with no dates or limits
    response = client.post(
        "/admin/promotions/new",
        data={
            **PERCENT_FORM,
            "code": "FIVEOFF",
            "kind": "amount",
            "percent": "",
            "amount_off": "1,005.50",
            "currency": "EUR",
            "min_total": "",
            "valid_from": "",
            "valid_until": "",
            "max_uses": "",
            "max_uses_per_customer": "",
        },
    )
    assert response.status_code == 303
    amount = promotions()[1]
    assert (amount.kind, amount.amount_off, amount.percent_bps) == (
        PromotionKind.AMOUNT,
        100_550,
        0,
    )
    assert (amount.currency, amount.min_total) == ("EUR", 0)
    assert (amount.valid_from, amount.valid_until) == (None, None)
    assert (amount.max_uses, amount.max_uses_per_customer, amount.products) == (
        None,
        None,
        [],
    )


def test_a_badly_described_promotion_is_refused_field_by_field_and_nothing_is_created(
    app, client, login
):
    login("admin")
    make_product(sku="ASIA-10")
    db.session.add(Promotion(code="TAKEN", kind=PromotionKind.PERCENT, percent_bps=500))
    db.session.commit()
    cases = [
        ({"code": "ab"}, "Field must be between 3 and 32 characters long."),
        ({"code": "BAD CODE!"}, CODE_MESSAGE),
        ({"code": "taken"}, CODE_MESSAGE),
        ({"code": ""}, "This field is required."),
        ({"percent": "0"}, "From 0.01 to 100 percent."),
        ({"percent": "100.01"}, "From 0.01 to 100 percent."),
        ({"percent": "12.555"}, "Type a number such as 12.50."),
        ({"percent": "-5"}, "Type a number such as 12.50."),
        ({"percent": "1,2.3"}, "Type a number such as 12.50."),
        ({"percent": ""}, "Required for this kind of discount."),
        ({"kind": "amount", "amount_off": ""}, "Required for this kind of discount."),
        ({"kind": "amount", "amount_off": "0"}, "More than zero."),
        ({"kind": "amount", "amount_off": "1,2.3"}, "Type a number such as 12.50."),
        ({"kind": "amount", "amount_off": "5.5", "currency": "JPY"}, "Type a number"),
        ({"min_total": "1,2.3"}, "Type a number such as 12.50."),
        ({"min_total": "abc"}, "Type a number such as 12.50."),
        ({"valid_until": "2030-02-01T00:00"}, "Must be after the start."),
        ({"valid_until": "2030-03-01T00:00"}, "Must be after the start."),
        ({"valid_from": "yesterday"}, "Not a valid datetime value."),
        ({"max_uses": "0"}, "Number must be between 1 and 10000000."),
        ({"max_uses": "1.5"}, "Not a valid integer value."),
        ({"max_uses_per_customer": "-1"}, "Number must be between 1 and 1000."),
        ({"kind": "bogus"}, "Not a valid choice."),
        ({"currency": "XXX"}, "Not a valid choice."),
        ({"skus": ["NO-SUCH"]}, "is not a valid choice"),
    ]
    for values, message in cases:
        response = client.post("/admin/promotions/new", data={**PERCENT_FORM, **values})
        assert response.status_code == 422, values
        assert message in response.get_data(as_text=True), values
    assert [promotion.code for promotion in promotions()] == ["TAKEN"]


def test_an_admin_deactivates_and_reactivates_a_code_and_sees_the_orders_using_it(
    app, client, login
):
    login("admin")
    pack = make_product(price=1000)
    db.session.add(Promotion(code="TEN", kind=PromotionKind.PERCENT, percent_bps=1000))
    db.session.commit()
    with_code = [place(pack, f"b{n}@example.com", "TEN") for n in range(2)]
    without = place(pack, "c@example.com")
    (promotion,) = promotions()

    page = client.get(f"/admin/promotions/{promotion.id}").get_data(as_text=True)
    for order in with_code:
        assert order.reference in page
    assert without.reference not in page
    assert "Used</dt><dd>2" in page

    response = client.post(f"/admin/promotions/{promotion.id}/active", data={"active": "0"})
    assert response.status_code == 303
    assert promotions()[0].active is False
    assert orders.quote_cart({pack.sku: 1}, promotion_code="TEN").promotion_error.reason == (
        "inactive"
    )
    page = client.get(f"/admin/promotions/{promotion.id}").get_data(as_text=True)
    assert "Promotion TEN is deactivated." in page and "Reactivate" in page

    client.post(f"/admin/promotions/{promotion.id}/active", data={"active": "1"})
    assert promotions()[0].active is True
    assert orders.quote_cart({pack.sku: 1}, promotion_code="TEN").discount == 100
    actions = db.session.execute(
        db.select(AuditEvent.action).where(AuditEvent.object_type == "promotion")
    ).scalars()
    assert sorted(actions) == ["promotion.activated", "promotion.deactivated"]
    assert client.get("/admin/promotions/999999").status_code == 404
    assert client.post("/admin/promotions/999999/active", data={"active": "0"}).status_code == 404


def test_promotion_and_order_admin_pages_are_for_admins_only(app, client, login):
    db.session.add(Promotion(code="SECRET", kind=PromotionKind.PERCENT, percent_bps=500))
    db.session.commit()
    (promotion,) = promotions()
    pages = [
        ("get", "/admin/promotions"),
        ("get", "/admin/promotions/new"),
        ("post", "/admin/promotions/new"),
        ("get", f"/admin/promotions/{promotion.id}"),
        ("post", f"/admin/promotions/{promotion.id}/active"),
        ("get", "/admin/orders"),
    ]
    for method, path in pages:
        response = getattr(client, method)(path, data={**PERCENT_FORM, "active": "0"})
        assert response.status_code == 302, path
        assert "/login" in response.headers["Location"], path
    for role in ("customer", "agent_manager"):
        login(role)
        for method, path in pages:
            response = getattr(client, method)(path, data={**PERCENT_FORM, "active": "0"})
            assert response.status_code == 403, (role, path)
        client.post("/logout")
    assert [(p.code, p.active) for p in promotions()] == [("SECRET", True)]


def test_the_admin_order_list_filters_by_status_and_finds_by_reference_or_e_mail(
    app, client, login
):
    login("admin")
    pack = make_product(price=1000)
    pending = place(pack, "Alice.Traveller@Example.com")
    cancelled = place(pack, "bob@example.com")
    orders.cancel_order(cancelled)

    def listed(query: str) -> set[str]:
        response = client.get(f"/admin/orders{query}")
        assert response.status_code == 200, query
        text = response.get_data(as_text=True)
        return {ref for ref in (pending.reference, cancelled.reference) if ref in text}

    assert listed("") == {pending.reference, cancelled.reference}
    assert listed("?status=pending") == {pending.reference}
    assert listed("?status=cancelled") == {cancelled.reference}
    assert listed("?status=fulfilled") == set()
    assert listed("?status=nonsense") == {pending.reference, cancelled.reference}
    assert listed(f"?q={pending.reference.lower()}") == {pending.reference}
    assert listed(f"?q=+{cancelled.reference}+") == {cancelled.reference}
    assert listed("?q=Alice.Traveller@Example.com") == {pending.reference}
    assert listed("?q=alice.traveller@example.com") == {pending.reference}
    assert listed("?q=BOB@EXAMPLE.COM&status=cancelled") == {cancelled.reference}
    assert listed("?q=bob@example.com&status=pending") == set()
    assert listed("?q=WD-0000000000") == set()
    assert listed("?q=" + "x" * 500) == set()


def test_reconcile_cancels_stale_unpaid_orders_and_gives_their_promotion_use_back(app, runner):
    pack = make_product(price=1000)
    db.session.add(Promotion(code="ONCE", kind=PromotionKind.PERCENT, percent_bps=1000, max_uses=2))
    db.session.commit()
    stale = place(pack, "late@example.com", "ONCE")
    fresh = place(pack, "recent@example.com", "ONCE")
    timeout = app.config["ORDER_PAYMENT_TIMEOUT_MINUTES"]
    db.session.get(Order, stale.id).created_at = utcnow() - timedelta(minutes=timeout + 1)
    db.session.get(Order, fresh.id).created_at = utcnow() - timedelta(minutes=timeout - 5)
    db.session.commit()
    stale_ref, fresh_ref = stale.reference, fresh.reference

    result = runner.invoke(args=["orders", "reconcile"])
    assert result.exit_code == 0, result.output
    assert f"expired: {stale_ref}" in result.output
    assert fresh_ref not in result.output

    db.session.rollback()
    stale = db.session.execute(db.select(Order).filter_by(reference=stale_ref)).scalar_one()
    fresh = db.session.execute(db.select(Order).filter_by(reference=fresh_ref)).scalar_one()
    assert (stale.status, stale.status_note) == (OrderStatus.CANCELLED, "expired_unpaid")
    assert stale.closed_at is not None
    assert fresh.status == OrderStatus.PENDING
    assert db.session.execute(db.select(Promotion.uses)).scalar_one() == 1
    uses = db.session.execute(db.select(PromotionUse.order_id)).scalars().all()
    assert uses == [fresh.id]
    assert orders.quote_cart({pack.sku: 1}, promotion_code="ONCE").discount == 100

    again = runner.invoke(args=["orders", "reconcile"])
    assert again.exit_code == 0 and "expired 0" in again.output
    assert db.session.execute(db.select(Promotion.uses)).scalar_one() == 1
