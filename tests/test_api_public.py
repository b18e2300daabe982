"""The public JSON API: the pack list, card look-ups, errors and the OpenAPI document."""

from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from shop.cards import services as card_services
from shop.cards.models import CardStatus, TopUpSource
from shop.catalog import services as catalog_services
from shop.catalog.models import Product
from shop.extensions import db
from tests.factories import iccid, make_card, make_product

PRODUCT_FIELDS = {"sku", "name", "data_mb", "validity_days", "price", "coverage"}
CARD_FIELDS = {"number", "status", "data_balance_mb", "expires_at"}
PHONE = "+66812345678"


def assert_json_error(response, status: int, code: str) -> dict:
    """Check the one error shape of the API and return its ``error`` object."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) <= {"code", "message", "fields"}
    return error


def is_int(value) -> bool:
    return type(value) is int


# --- GET /api/v1/products ------------------------------------------------------------------


def test_product_list_shows_only_packs_on_sale(client):
    on_sale = make_product(sku="TH-5GB-7D", name="Thailand 5 GB / 7 days", price=900)
    withdrawn = make_product(sku="OLD-1GB")
    catalog_services.set_product_active(withdrawn.id, False)

    response = client.get("/api/v1/products")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    skus = [item["sku"] for item in response.get_json()["products"]]
    assert skus == [on_sale.sku]


def test_product_list_is_empty_when_nothing_is_on_sale(client):
    response = client.get("/api/v1/products")

    assert response.status_code == 200
    assert response.get_json() == {"products": []}


def test_product_carries_the_contract_fields_with_integer_money(client):
    make_product(
        sku="ASIA-10GB-30D",
        name="Asia 10 GB / 30 days",
        data_mb=10240,
        validity_days=30,
        price=2500,
        currency="USD",
        coverage=["TH", "VN", "MY"],
    )

    (product,) = client.get("/api/v1/products").get_json()["products"]

    assert set(product) >= PRODUCT_FIELDS
    assert product["sku"] == "ASIA-10GB-30D"
    assert product["name"] == "Asia 10 GB / 30 days"
    assert product["data_mb"] == 10240 and is_int(product["data_mb"])
    assert product["validity_days"] == 30 and is_int(product["validity_days"])
    assert product["price"] == {"amount": 2500, "currency": "USD"}
    assert is_int(product["price"]["amount"])
    assert product["coverage"] == ["TH", "VN", "MY"]


def test_yen_priced_pack_amount_is_whole_yen(client):
    make_product(sku="JP-3GB-7D", price=1800, currency="JPY", coverage=["JP"])

    (product,) = client.get("/api/v1/products").get_json()["products"]

    assert product["price"] == {"amount": 1800, "currency": "JPY"}


def test_post_to_the_product_list_is_a_json_405(client):
    response = client.post("/api/v1/products", json={"sku": "NEW"})

    assert_json_error(response, 405, "method_not_allowed")
    assert db.session.execute(db.select(db.func.count(Product.id))).scalar_one() == 0


# --- GET /api/v1/cards/<number> ------------------------------------------------------------


def test_card_is_found_by_iccid(client):
    card = make_card(iccid(4711))

    response = client.get(f"/api/v1/cards/{card.number}")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) >= CARD_FIELDS
    assert body["number"] == card.number
    assert body["status"] == "active"
    assert body["data_balance_mb"] == 0 and is_int(body["data_balance_mb"])
    assert body["expires_at"] is None


def test_card_is_found_by_iccid_typed_with_spaces(client):
    number = iccid(4712)
    make_card(number)
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4))

    response = client.get("/api/v1/cards/" + quote(spaced))

    assert response.status_code == 200
    assert response.get_json()["number"] == number


def test_card_is_found_by_iccid_typed_with_dashes(client):
    number = iccid(4713)
    make_card(number)

    response = client.get(f"/api/v1/cards/{number[:4]}-{number[4:10]}-{number[10:]}")

    assert response.status_code == 200
    assert response.get_json()["number"] == number


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/cards/%2B66812345678",
        "/api/v1/cards/+66812345678",
        "/api/v1/cards/" + quote("+66 81 234 5678"),
    ],
    ids=["plus-encoded", "plus-literal", "plus-with-spaces"],
)
def test_card_is_found_by_phone_number(client, path):
    make_card(PHONE)

    response = client.get(path)

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["number"] == PHONE
    assert body["status"] == "active"


def test_suspended_card_shows_its_status(client):
    card = make_card(iccid(4714), status=CardStatus.SUSPENDED)

    response = client.get(f"/api/v1/cards/{card.number}")

    assert response.status_code == 200
    assert response.get_json()["status"] == "suspended"


def test_topped_up_card_shows_balance_and_utc_expiry_with_offset(client):
    card = make_card(iccid(4715))
    product = make_product(data_mb=3072, validity_days=7)
    now = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
    card_services.apply_pack(
        card,
        card_services.PackGrant.of_product(product),
        source=TopUpSource.ADMIN,
        channel="cli",
        now=now,
    )
    db.session.commit()
    db.session.expire_all()

    body = client.get(f"/api/v1/cards/{card.number}").get_json()

    assert body["data_balance_mb"] == 3072
    expires = datetime.fromisoformat(body["expires_at"])
    assert expires.utcoffset() is not None
    assert expires == datetime(2030, 1, 17, 12, 0, tzinfo=UTC)


def test_unregistered_card_is_404_card_not_found(client):
    make_card(iccid(4716))

    response = client.get(f"/api/v1/cards/{iccid(4717)}")

    error = assert_json_error(response, 404, "card_not_found")
    assert set(error) == {"code", "message"}


def test_unregistered_phone_number_is_404_card_not_found(client):
    assert_json_error(client.get("/api/v1/cards/%2B6699999999"), 404, "card_not_found")


def test_iccid_with_wrong_check_digit_is_422_invalid_card_number(client):
    number = iccid(4718)
    make_card(number)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)

    error = assert_json_error(client.get(f"/api/v1/cards/{wrong}"), 422, "invalid_card_number")

    assert set(error["fields"]) == {"number"}
    assert "check digit" in error["fields"]["number"]


@pytest.mark.parametrize(
    "number",
    ["89440000ABC000000027", "hello", "%2B0812345678", "12345", "<script>"],
    ids=["letters", "word", "phone-leading-zero", "too-short", "markup"],
)
def test_malformed_card_number_is_422_invalid_card_number(client, number):
    assert_json_error(client.get(f"/api/v1/cards/{number}"), 422, "invalid_card_number")


def test_card_look_up_is_limited_to_60_a_minute_per_client(client):
    number = iccid(4719)
    make_card(number)

    statuses = [client.get(f"/api/v1/cards/{number}").status_code for _ in range(61)]

    assert statuses[:60] == [200] * 60
    error = assert_json_error(client.get(f"/api/v1/cards/{number}"), 429, "rate_limited")
    assert set(error) == {"code", "message"}
    assert statuses[60] == 429


def test_rate_limited_answer_says_when_to_retry(client):
    for _ in range(60):
        assert client.get("/api/v1/cards/%2B6699999999").status_code == 404

    response = client.get("/api/v1/cards/%2B6699999999")

    assert_json_error(response, 429, "rate_limited")
    retry_after = response.headers.get("Retry-After")
    assert retry_after is not None
    assert 0 < int(retry_after) <= 60


def test_card_limit_does_not_hold_back_the_product_list(client):
    for _ in range(61):
        client.get("/api/v1/cards/%2B6699999999")

    assert client.get("/api/v1/products").status_code == 200


# --- errors and documentation --------------------------------------------------------------


def test_unknown_api_path_is_a_json_404(client):
    error = assert_json_error(client.get("/api/v1/nope"), 404, "not_found")

    assert set(error) == {"code", "message"}


def test_unknown_api_path_never_answers_html(client):
    response = client.get("/api/v1/nope", headers={"Accept": "text/html"})

    assert response.mimetype == "application/json"
    assert "<html" not in response.get_data(as_text=True).lower()


def test_openapi_document_describes_the_public_endpoints(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    assert {"title", "version"} <= set(document["info"])
    assert {"/products", "/cards/{number}"} <= set(document["paths"])
    assert "get" in document["paths"]["/products"]
    assert "get" in document["paths"]["/cards/{number}"]


def test_openapi_document_describes_every_api_route(app):
    import re

    document = app.test_client().get("/api/v1/openapi.json").get_json()
    documented = set(document["paths"])
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        assert path in documented, f"{rule.rule} is missing from the OpenAPI document"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in document["paths"][path], f"{method} {rule.rule} undocumented"
