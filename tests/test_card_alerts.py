"""Alerts to a card's owner: each kind once per pack period, by e-mail and SMS, as chosen."""

import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, update

from shop.alerts import messages
from shop.alerts import services as alerts
from shop.alerts.models import AlertKind, CardAlert
from shop.audit.services import Actor
from shop.auth.models import User
from shop.cards import services as card_services
from shop.cards.models import Card, DeliveryStatus, TopUpDelivery, TopUpSource
from shop.extensions import db
from shop.jobs import tasks
from shop.mail.models import Channel, OutboxMessage
from shop.network.signing import SIGNATURE_HEADER, sign
from shop.storefront.models import Delivery, Order, OrderStatus
from shop.timeutil import utcnow
from shop.vouchers import services as voucher_services
from tests.factories import make_card, make_product, make_user
from tests.test_network_events import SECRET, event, figures
from tests.vouchers_helpers import make_vouchers

PHONE = "+66812345678"
PACK_MB = 10_240
WORKERS = 20


@pytest.fixture
def app_config():
    return {
        "NETWORK_WEBHOOK_SECRET": SECRET,
        "SHOP_BASE_URL": "https://shop.example",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": WORKERS + 5, "max_overflow": 0},
    }


def owner_with_phone(locale=None):
    user = make_user()
    db.session.execute(
        update(User).where(User.id == user.id).values(phone=PHONE, preferred_locale=locale)
    )
    db.session.commit()
    return user


def top_up(card, data_mb=PACK_MB) -> int:
    """Apply a pack to the card and let the network confirm it: a new pack period begins."""
    topup = card_services.apply_pack(
        card_services.lock_card(card.number),
        card_services.PackGrant(make_product(data_mb=data_mb).id, data_mb, 30),
        source=TopUpSource.ADMIN,
        channel="cli",
    )
    db.session.commit()
    db.session.execute(
        update(TopUpDelivery)
        .where(TopUpDelivery.topup_id == topup.id)
        .values(status=DeliveryStatus.DELIVERED)
    )
    db.session.commit()
    return topup.id


def set_figures(card_id, used, left=None, expires_in=timedelta(days=20)):
    left = PACK_MB - used if left is None else left
    db.session.execute(
        update(Card)
        .where(Card.id == card_id)
        .values(data_used_mb=used, data_balance_mb=left, expires_at=utcnow() + expires_in)
    )
    db.session.commit()


def alerts_of(card_id):
    db.session.rollback()
    return list(
        db.session.execute(
            db.select(OutboxMessage)
            .where(OutboxMessage.kind.like("alert_%"))
            .order_by(OutboxMessage.id)
        ).scalars()
    )


def kinds_sent(card_id):
    return [message.kind.removeprefix("alert_") for message in alerts_of(card_id)]


def owned_card(locale=None):
    owner = owner_with_phone(locale)
    card = make_card(owner=owner)
    top_up(card)
    return owner, card


def test_each_kind_fires_once_at_its_crossing_and_again_only_in_the_next_pack_period(app):
    _, card = owned_card()
    steps = [
        ({"used": 5_000}, []),
        ({"used": 7_800}, [AlertKind.USAGE_75]),
        ({"used": 7_900}, []),
        ({"used": 9_300}, [AlertKind.USAGE_90]),
        ({"used": 10_200}, [AlertKind.LOW_DATA]),
        ({"used": 10_210}, []),
        ({"used": PACK_MB}, [AlertKind.USED_UP]),
        ({"used": PACK_MB, "expires_in": timedelta(days=2)}, [AlertKind.EXPIRES_3_DAYS]),
        ({"used": PACK_MB, "expires_in": timedelta(hours=20)}, [AlertKind.EXPIRES_1_DAY]),
        ({"used": PACK_MB, "expires_in": timedelta(hours=19)}, []),
        ({"used": PACK_MB, "expires_in": -timedelta(minutes=1)}, [AlertKind.EXPIRED]),
    ]
    for figures_now, expected in steps:
        set_figures(card.id, **figures_now)
        assert alerts.check_card(card.id) == expected, figures_now
        assert alerts.check_card(card.id) == [], "a repeated check sends nothing"
    each = [kind.value for kind in AlertKind]
    assert sorted(kinds_sent(card.id)) == sorted(each * 2), "one e-mail and one SMS per kind"

    top_up(card)  # a new pack: a new period
    set_figures(card.id, used=7_800)
    assert alerts.check_card(card.id) == [AlertKind.USAGE_75]


def test_a_pack_the_network_has_not_applied_yet_starts_no_new_period(app):
    _, card = owned_card()
    set_figures(card.id, used=7_800)
    assert alerts.check_card(card.id) == [AlertKind.USAGE_75]
    pending = card_services.apply_pack(
        card_services.lock_card(card.number),
        card_services.PackGrant(make_product(data_mb=PACK_MB).id, PACK_MB, 30),
        source=TopUpSource.ADMIN,
        channel="cli",
    )
    db.session.commit()  # the network at 127.0.0.1:1 does not answer: it stays pending
    set_figures(card.id, used=7_800)

    assert alerts.check_card(card.id) == []

    db.session.execute(
        update(TopUpDelivery)
        .where(TopUpDelivery.topup_id == pending.id)
        .values(status=DeliveryStatus.DELIVERED)
    )
    db.session.commit()
    assert alerts.check_card(card.id) == [AlertKind.USAGE_75]


def test_kinds_reached_together_send_only_the_most_serious(app):
    _, card = owned_card()
    set_figures(card.id, used=PACK_MB, expires_in=timedelta(hours=2))

    assert alerts.check_card(card.id) == [AlertKind.USED_UP, AlertKind.EXPIRES_1_DAY]

    recorded = db.session.execute(
        db.select(CardAlert.kind, CardAlert.sent).filter_by(card_id=card.id)
    ).all()
    assert set(recorded) == {
        (AlertKind.USAGE_75, False),
        (AlertKind.USAGE_90, False),
        (AlertKind.USED_UP, True),
        (AlertKind.EXPIRES_3_DAYS, False),
        (AlertKind.EXPIRES_1_DAY, True),
    }
    set_figures(card.id, used=PACK_MB, expires_in=-timedelta(minutes=5))
    assert alerts.check_card(card.id) == [AlertKind.EXPIRED]


def test_turned_off_kinds_stay_silent_and_the_threshold_is_the_owners(app):
    owner, card = owned_card()
    enabled = set(AlertKind) - {AlertKind.USAGE_75, AlertKind.USAGE_90}
    alerts.save_preference(card.id, f"user:{owner.id}", enabled, 500)

    set_figures(card.id, used=9_500)
    assert alerts.check_card(card.id) == []
    set_figures(card.id, used=PACK_MB - 400)
    assert alerts.check_card(card.id) == [AlertKind.LOW_DATA]
    (mail,) = [m for m in alerts_of(card.id) if m.channel == Channel.EMAIL]
    assert "Less than 500 MB" in mail.body


def test_the_email_and_text_message_name_the_card_its_figures_and_the_checkout_link(app, caplog):
    owner, card = owned_card()
    (voucher,) = make_vouchers(make_product(data_mb=PACK_MB))
    caplog.set_level(logging.DEBUG)
    voucher_services.redeem_voucher(
        voucher.pin, card.number, channel="web", actor=Actor.system("test")
    )
    set_figures(card.id, used=20_000, left=480)

    assert alerts.check_card(card.id) == [AlertKind.USAGE_90]

    mail, sms = alerts_of(card.id)
    link = f"https://shop.example/checkout?card={card.number}"
    assert (mail.channel, mail.recipient) == (Channel.EMAIL, owner.email)
    assert card.number in mail.subject and "90% of the data" in mail.subject
    assert "Data left: 480 MB of 20480 MB" in mail.body and link in mail.body
    assert "https://shop.example/alerts/" in mail.body, "a link to choose the alerts"
    assert (sms.channel, sms.recipient) == (Channel.SMS, PHONE)
    assert link in sms.body and "90%" in sms.body
    for text in (mail.subject, mail.body, sms.body, caplog.text):
        assert voucher.pin not in text


def test_a_guest_buyer_gets_alerts_in_the_orders_language_and_a_phone_card_the_sms(app):
    card = make_card(number=PHONE)
    top_up(card)
    order = Order(
        reference="WD-ALERT-1",
        email="guest@example.com",
        locale="zh_Hans_CN",
        status=OrderStatus.FULFILLED,
        delivery=Delivery.TOPUP,
        card_id=card.id,
        currency="USD",
        subtotal=500,
        total=500,
    )
    db.session.add(order)
    db.session.commit()
    set_figures(card.id, used=PACK_MB)

    assert alerts.check_card(card.id) == [AlertKind.USED_UP]

    mail, sms = alerts_of(card.id)
    assert mail.recipient == "guest@example.com" and sms.recipient == PHONE
    assert "流量已用完" in mail.body and "流量已用完" in sms.body


def test_a_card_without_an_owner_or_buyer_gets_no_alert(app):
    card = make_card()
    top_up(card)
    set_figures(card.id, used=PACK_MB)

    assert alerts.check_card(card.id) == []
    assert db.session.execute(db.select(func.count(CardAlert.id))).scalar_one() == 0


def post_event(client, body):
    headers = {SIGNATURE_HEADER: sign(SECRET, body), "Content-Type": "application/json"}
    return client.post("/network/events", data=body, headers=headers)


@pytest.mark.parametrize("same_id", [True, False], ids=["one-event-id", "twenty-event-ids"])
def test_twenty_concurrent_copies_of_one_threshold_event_send_one_alert(app, same_id):
    _, card = owned_card()
    number = card.number
    barrier = threading.Barrier(WORKERS)

    def deliver(copy):
        body = event(
            "usage.threshold",
            number,
            "evt_same" if same_id else f"evt_{copy}",
            threshold_percent=80,
            card=figures(number, PACK_MB - 8_200, 8_200),
        )
        with app.app_context():
            client = app.test_client()
            barrier.wait()
            try:
                return post_event(client, body).status_code
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        statuses = list(pool.map(deliver, range(WORKERS)))

    assert statuses == [200] * WORKERS
    assert kinds_sent(card.id) == ["usage_75", "usage_75"], "one e-mail and one SMS"
    assert db.session.execute(db.select(func.count(CardAlert.id))).scalar_one() == 1


def test_the_data_exhausted_event_sends_the_used_up_alert(app, client):
    _, card = owned_card()
    body = event("data.exhausted", card.number, card=figures(card.number, 0, PACK_MB))

    assert post_event(client, body).status_code == 200

    assert kinds_sent(card.id) == ["used_up", "used_up"]


def test_the_periodic_task_alerts_cards_near_their_end_of_validity(app):
    _, soon = owned_card()
    _, later = owned_card()
    set_figures(soon.id, used=0, expires_in=timedelta(days=2, hours=12))
    set_figures(later.id, used=0, expires_in=timedelta(days=10))

    tasks.send_expiry_alerts()
    tasks.send_expiry_alerts()

    assert kinds_sent(soon.id) == ["expires_3d", "expires_3d"]
    assert "send_expiry_alerts" in tasks.SCHEDULE


def test_the_customer_chooses_alerts_on_the_saved_cards_page(app, client, login):
    owner = login("customer")
    card = make_card()
    saved = client.post("/account/cards", data={"number": card.number})
    assert saved.status_code == 303
    page = client.get("/account/cards")
    assert page.status_code == 200
    from shop.storefront.saved_cards import saved_cards

    (saved_card,) = saved_cards(owner.id)
    url = f"/account/cards/{saved_card.id}/alerts"
    assert url in client.get(f"/account/cards/{saved_card.id}").get_data(as_text=True)
    form = client.get(url)
    assert form.status_code == 200
    assert re.search(r'<input checked[^>]*name="usage_75"', form.get_data(as_text=True))

    refused = client.post(url, data={"used_up": "y", "low_data_mb": "0"})
    assert refused.status_code == 422
    assert alerts.preference_for(card.id, f"user:{owner.id}") == alerts.DEFAULT_PREFERENCE

    kept = client.post(url, data={"used_up": "y", "low_data": "y", "low_data_mb": "250"})
    assert kept.status_code == 303
    preference = alerts.preference_for(card.id, f"user:{owner.id}")
    assert preference.low_data_mb == 250
    assert preference.disabled == set(AlertKind) - {AlertKind.USED_UP, AlertKind.LOW_DATA}


def test_another_customers_card_alerts_page_is_not_found(app, client, login):
    other = make_user()
    card = make_card(owner=other)
    from shop.storefront.models import SavedCard

    db.session.add(SavedCard(user_id=other.id, card_id=card.id))
    db.session.commit()
    saved_id = db.session.execute(db.select(SavedCard.id)).scalar_one()
    login("customer")

    assert client.get(f"/account/cards/{saved_id}/alerts").status_code == 404


def test_a_guest_chooses_alerts_through_the_signed_link(app, client):
    card = make_card()
    token = messages.preferences_token(card.id, "email:guest@example.com")

    assert client.get(f"/alerts/{token}").status_code == 200
    response = client.post(f"/alerts/{token}", data={"expired": "y", "low_data_mb": "100"})
    assert response.status_code == 303
    preference = alerts.preference_for(card.id, "email:guest@example.com")
    assert preference.disabled == set(AlertKind) - {AlertKind.EXPIRED}
    assert client.get(f"/alerts/{token}x").status_code == 404
    assert client.get("/alerts/not-a-token").status_code == 404


def test_the_alerts_link_opens_checkout_ready_to_top_up_the_card(app, client):
    card = make_card()
    product = make_product(sku="ALERT-PACK")

    first = client.get(f"/checkout?card={card.number}")
    assert first.status_code == 302 and first.headers["Location"].endswith("/")
    client.post("/cart/add", data={"sku": product.sku, "quantity": 1})
    page = client.get("/checkout").get_data(as_text=True)

    assert f'value="{card.number}"' in page
    assert re.search(r'<input checked[^>]*value="topup"', page)
