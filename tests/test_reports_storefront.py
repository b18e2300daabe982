"""The operator's online sales report: by pack and by promotion, refunds apart, SQL-grouped."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from shop.extensions import db
from shop.reports import storefront
from shop.reports.periods import Period
from shop.storefront.models import (
    Delivery,
    Order,
    OrderLine,
    OrderStatus,
    Promotion,
    PromotionKind,
)
from tests.factories import make_product

NOW = datetime.now(UTC)


def make_order(product, quantity, status, *, promotion=None, discount=0, paid_at=NOW, ref="1"):
    subtotal = product.price * quantity
    order = Order(
        reference=f"WD-TEST{ref:0>5}",
        email="b@example.com",
        status=status,
        delivery=Delivery.VOUCHERS,
        currency="USD",
        subtotal=subtotal,
        discount=discount,
        total=subtotal - discount,
        promotion_id=promotion.id if promotion else None,
        paid_at=paid_at,
    )
    order.lines = [
        OrderLine(
            product_id=product.id,
            sku=product.sku,
            name=product.name,
            data_mb=product.data_mb,
            validity_days=product.validity_days,
            unit_price=product.price,
            quantity=quantity,
        )
    ]
    db.session.add(order)
    db.session.commit()
    return order


def test_online_sales_by_pack_and_promotion(app, client, login):
    login("admin")
    asia = make_product(sku="ASIA", price=1500)
    euro = make_product(sku="EURO", price=1000)
    code = Promotion(code="=CMD", kind=PromotionKind.PERCENT, percent_bps=1000)
    db.session.add(code)
    db.session.commit()
    make_order(asia, 2, OrderStatus.FULFILLED, promotion=code, discount=300, ref="1")
    make_order(euro, 1, OrderStatus.FULFILLED, ref="2")
    make_order(euro, 3, OrderStatus.PAID, ref="3")
    make_order(asia, 1, OrderStatus.REFUNDED, ref="4")
    make_order(asia, 5, OrderStatus.PENDING, paid_at=None, ref="5")
    make_order(asia, 7, OrderStatus.FULFILLED, paid_at=NOW - timedelta(days=400), ref="6")

    page = client.get("/reports/storefront?preset=this_month")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "ASIA" in text and "EURO" in text
    assert "=CMD" in text

    today = NOW.date()
    report = storefront.storefront_sales(Period(today, today, ZoneInfo("UTC")))
    by_sku = {line.sku: line for line in report.packs}
    assert (by_sku["ASIA"].quantity, by_sku["ASIA"].gross) == (2, 3000)
    assert (by_sku["EURO"].orders, by_sku["EURO"].quantity, by_sku["EURO"].gross) == (2, 4, 4000)
    by_code = {line.code: line for line in report.promotions}
    assert (by_code["=CMD"].orders, by_code["=CMD"].discount, by_code["=CMD"].paid) == (
        1,
        300,
        2700,
    )
    assert (by_code[""].orders, by_code[""].paid) == (2, 4000)
    assert report.totals["USD"] == {"orders": 3, "discount": 300, "paid": 6700}
    assert (report.refunded_orders, report.refunded_amount) == (1, 1500)


def test_online_sales_report_is_for_admins_and_refuses_bad_dates(app, client, login):
    login("admin")
    bad = client.get("/reports/storefront?preset=custom&from=2026-02-30&to=2026-03-01")
    assert bad.status_code == 422


def test_online_sales_report_is_not_for_managers(app, client, login):
    login("agent_manager")
    assert client.get("/reports/storefront").status_code in (302, 403)
