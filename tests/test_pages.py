"""Every page renders for every role, and the wrong role is turned away."""

import pytest

from shop.cards import services as card_services
from shop.cards.models import TopUpSource
from shop.extensions import db
from tests.factories import iccid, make_card, make_product, make_user

ROLES = ["anonymous", "customer", "agent_staff", "agent_manager", "admin"]
PUBLIC_PAGES = ["/", "/packs/{sku}", "/card", "/card?number={card}"]
ANONYMOUS_ONLY_PAGES = ["/login", "/register", "/password/forgot"]
ACCOUNT_PAGES = ["/account", "/account/password"]
ADMIN_PAGES = [
    "/admin/",
    "/admin/products",
    "/admin/products/new",
    "/admin/products/{product_id}/edit",
    "/admin/cards",
    "/admin/cards/{card_id}",
    "/admin/audit",
]


@pytest.fixture
def world(client, login, request):
    product = make_product(sku="ASIA-TEST")
    card = make_card()
    role = request.param
    if role != "anonymous":
        login(role)
    return {
        "sku": product.sku,
        "product_id": product.id,
        "card": card.number,
        "card_id": card.id,
        "role": role,
    }


def fill(path, world):
    return path.format(**world)


@pytest.mark.parametrize("world", ROLES, indirect=True)
def test_public_pages_render_for_everyone(client, world):
    for path in PUBLIC_PAGES:
        response = client.get(fill(path, world))
        assert response.status_code == 200, path
        assert "<h1" in response.get_data(as_text=True)


@pytest.mark.parametrize("world", ROLES, indirect=True)
def test_login_pages_render_or_send_logged_in_users_on(client, world):
    for path in ANONYMOUS_ONLY_PAGES:
        response = client.get(path)
        expected = 200 if world["role"] == "anonymous" or path == "/password/forgot" else 302
        assert response.status_code == expected, path


@pytest.mark.parametrize("world", ROLES, indirect=True)
def test_account_pages_need_a_login(client, world):
    for path in ACCOUNT_PAGES:
        response = client.get(path)
        if world["role"] == "anonymous":
            assert response.status_code == 302
            assert "/login?next=" in response.headers["Location"]
        else:
            assert response.status_code == 200, path


@pytest.mark.parametrize("world", ROLES, indirect=True)
def test_admin_pages_are_for_admins_only(client, world):
    for path in ADMIN_PAGES:
        response = client.get(fill(path, world))
        if world["role"] == "admin":
            assert response.status_code == 200, path
        elif world["role"] == "anonymous":
            assert response.status_code == 302, path
            assert "/login" in response.headers["Location"]
        else:
            assert response.status_code == 403, path
            assert "Not allowed" in response.get_data(as_text=True)


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_inactive_pack_is_not_on_the_home_page_and_its_page_is_404(client):
    make_product(sku="ON-SALE", name="On sale pack")
    hidden = make_product(sku="OFF-SALE", name="Off sale pack")
    hidden.active = False
    db.session.commit()
    page = client.get("/").get_data(as_text=True)
    assert "On sale pack" in page
    assert "Off sale pack" not in page
    assert client.get("/packs/OFF-SALE").status_code == 404


def test_pack_page_shows_data_validity_price_and_coverage(client):
    make_product(
        sku="JP-3GB", name="Japan 3 GB", data_mb=3072, validity_days=7, price=1200, coverage=["JP"]
    )
    page = client.get("/packs/JP-3GB").get_data(as_text=True)
    for fact in ("Japan 3 GB", "3 GB", "7", "$12.00", "JP"):
        assert fact in page


def test_card_check_shows_balance_and_expiry(client):
    product = make_product(data_mb=2048, validity_days=30)
    card = make_card()
    card_services.apply_pack(
        card, card_services.PackGrant.of_product(product), source=TopUpSource.ADMIN, channel="test"
    )
    db.session.commit()
    page = client.get(f"/card?number={card.number}").get_data(as_text=True)
    assert "2 GB" in page
    assert str(card.expires_at.year) in page


def test_card_check_explains_a_bad_number_and_an_unknown_card(client):
    valid = iccid(77)
    wrong_check_digit = valid[:-1] + str((int(valid[-1]) + 1) % 10)
    response = client.get(f"/card?number={wrong_check_digit}")
    assert response.status_code == 422
    assert "check digit" in response.get_data(as_text=True)
    response = client.get("/card?number=%2B66811111111")
    assert response.status_code == 404
    assert "No card with this number" in response.get_data(as_text=True)


def test_top_up_history_is_shown_to_the_cards_owner_only(client, app, login):
    owner = login("customer")
    product = make_product(name="History pack")
    card = make_card(owner=owner)
    card_services.apply_pack(
        card, card_services.PackGrant.of_product(product), source=TopUpSource.ADMIN, channel="test"
    )
    db.session.commit()
    assert "History pack" in client.get(f"/card?number={card.number}").get_data(as_text=True)
    stranger = app.test_client()
    other = make_user()
    stranger.post("/login", data={"email": other.email, "password": "correct-horse-9"})
    assert "History pack" not in stranger.get(f"/card?number={card.number}").get_data(as_text=True)
    assert "History pack" not in app.test_client().get(f"/card?number={card.number}").get_data(
        as_text=True
    )


def test_pages_come_in_simplified_chinese(client):
    client.get("/lang/zh_Hans_CN?next=/")
    page = client.get("/").get_data(as_text=True)
    assert 'lang="zh-Hans"' in page


def test_browser_language_picks_chinese(client):
    page = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).get_data(
        as_text=True
    )
    assert 'lang="zh-Hans"' in page


def test_language_switch_does_not_redirect_off_site(client):
    response = client.get("/lang/en?next=https://evil.example/")
    assert response.status_code == 302
    assert "evil" not in response.headers["Location"]


def test_security_headers_forbid_framing_and_inline_scripts(client):
    response = client.get("/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_nul_character_anywhere_in_a_request_is_bad_input_never_a_server_error(client, login):
    assert client.get("/card?number=8944%0012").status_code == 400
    assert client.get("/packs/ASIA%00-1").status_code == 400
    assert (
        client.post("/redeem", data={"pin": "1234\x005678", "card": "+66812345678"}).status_code
        == 400
    )
    response = client.post("/api/v1/redemptions", json={"pin": "1\u00002", "card": "+66812345678"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_request"
