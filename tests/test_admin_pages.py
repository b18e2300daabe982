"""The operator's pack and card pages change the catalog and the card register."""

from shop.audit.models import AuditEvent
from shop.cards.models import Card, CardStatus
from shop.catalog.models import Product
from shop.extensions import db
from tests.factories import iccid, make_card, make_product

PACK_FORM = {
    "sku": "eu-5gb-30d",
    "name": "Europe 5 GB / 30 days",
    "region": "Europe",
    "description": "Fifteen countries",
    "data_mb": "5120",
    "validity_days": "30",
    "price": "18.50",
    "currency": "USD",
    "coverage": "de, fr it",
}


def products():
    return db.session.execute(db.select(Product)).scalars().all()


def test_admin_creates_a_pack_with_price_in_minor_units(client, login):
    login("admin")
    response = client.post("/admin/products/new", data=PACK_FORM)
    assert response.status_code == 302
    (product,) = products()
    assert product.sku == "EU-5GB-30D"
    assert product.price == 1850
    assert isinstance(product.price, int)
    assert product.coverage == ["DE", "FR", "IT"]
    event = db.session.execute(
        db.select(AuditEvent).filter_by(action="product.created")
    ).scalar_one()
    assert event.object_id == "EU-5GB-30D"


def test_bad_pack_input_is_explained_and_creates_nothing(client, login):
    login("admin")
    for field, value, message in [
        ("price", "12.505", "12.50"),
        ("price", "-3", "12.50"),
        ("data_mb", "0", "Number must be"),
        ("coverage", "Germany", "country code"),
        ("sku", "bad sku!", "Letters, digits and dashes"),
    ]:
        response = client.post("/admin/products/new", data={**PACK_FORM, field: value})
        assert response.status_code == 400, (field, value)
        assert message in response.get_data(as_text=True), (field, value)
    assert products() == []


def test_duplicate_sku_is_refused(client, login):
    login("admin")
    make_product(sku="EU-5GB-30D")
    response = client.post("/admin/products/new", data=PACK_FORM)
    assert response.status_code == 400
    assert "Another pack already has this SKU" in response.get_data(as_text=True)
    assert len(products()) == 1


def test_admin_edits_a_pack(client, login):
    login("admin")
    product = make_product(sku="EU-5GB-30D", price=1000)
    response = client.post(f"/admin/products/{product.id}/edit", data={**PACK_FORM, "price": "20"})
    assert response.status_code == 302
    db.session.refresh(product)
    assert product.price == 2000
    assert client.get("/admin/products/999999/edit").status_code == 404


def test_admin_takes_a_pack_off_sale_and_back(client, login):
    login("admin")
    product = make_product(name="Seasonal pack")
    client.post(f"/admin/products/{product.id}/active", data={"active": "0"})
    db.session.refresh(product)
    assert product.active is False
    assert "Seasonal pack" not in client.get("/").get_data(as_text=True)
    client.post(f"/admin/products/{product.id}/active", data={"active": "1"})
    db.session.refresh(product)
    assert product.active is True


def test_admin_registers_a_card_and_bad_numbers_are_explained(client, login):
    login("admin")
    number = iccid(424242)
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    response = client.post(
        "/admin/cards", data={"number": spaced, "status": "active", "region": "Asia"}
    )
    assert response.status_code == 302
    card = db.session.execute(db.select(Card)).scalar_one()
    assert card.number == number
    response = client.post("/admin/cards", data={"number": number, "status": "active"})
    assert response.status_code == 400
    assert "registered already" in response.get_data(as_text=True)
    response = client.post(
        "/admin/cards",
        data={
            "number": number[:-1] + "0" if number[-1] != "0" else number[:-1] + "1",
            "status": "active",
        },
    )
    assert response.status_code == 400
    assert len(db.session.execute(db.select(Card)).scalars().all()) == 1


def test_admin_suspends_and_reactivates_a_card(client, login):
    login("admin")
    card = make_card()
    client.post(f"/admin/cards/{card.id}/status", data={"status": "suspended"})
    db.session.refresh(card)
    assert card.status == CardStatus.SUSPENDED
    assert "suspended" in client.get(f"/card?number={card.number}").get_data(as_text=True).lower()
    client.post(f"/admin/cards/{card.id}/status", data={"status": "active"})
    db.session.refresh(card)
    assert card.status == CardStatus.ACTIVE
    assert (
        client.post(f"/admin/cards/{card.id}/status", data={"status": "melted"}).status_code == 400
    )


def test_admin_card_search_finds_by_prefix(client, login):
    login("admin")
    wanted = make_card(number=iccid(111))
    make_card(number="+447700900123")
    page = client.get(f"/admin/cards?q={wanted.number[:12]}").get_data(as_text=True)
    assert wanted.number in page
    assert "+447700900123" not in page
