"""Text messages: Twilio's own client against the SMS simulator, through the outbox and the jobs.

A message is written to the outbox with its use case and sent by the job task: retried while
the provider fails, failed for good when it refuses the number, sent once however often its
task runs, and its body (codes, PINs) never logged. Phone numbers are kept as E.164.
"""

import logging
import time
from datetime import timedelta

import pytest
import requests

from shop.audit.models import AuditEvent
from shop.extensions import db
from shop.jobs import tasks
from shop.mail import services as mail_services
from shop.mail.models import Channel, OutboxMessage, OutboxStatus
from shop.mail.services import RETRY_DELAYS, send_sms
from shop.messaging import build_sms_gateway
from shop.messaging.gateway import SmsRejected, SmsUnavailable
from shop.messaging.phones import InvalidPhone, is_phone_number, normalise_phone
from shop.messaging.settings import SmsConfigError, sms_settings
from shop.storefront.models import PaymentCheck
from shop.timeutil import utcnow
from shop.vouchers.models import Voucher, VoucherStatus
from simulators.sms import SmsSimulator
from tests.factories import make_agent, make_product
from tests.storefront_helpers import add_to_cart, order_by_path, place_order, with_action
from tests.vouchers_helpers import make_vouchers


@pytest.fixture(scope="module")
def phone_network():
    with SmsSimulator() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_network(phone_network):
    yield
    phone_network.state.clear_scenarios()
    phone_network.state.messages.clear()


@pytest.fixture
def app_config(phone_network):
    return {**phone_network.shop_config(), "SMS_TIMEOUT_SECONDS": 2.0}


def scenario(network, outcome, count=1, **extra):
    response = requests.post(
        f"{network.url}/simulator/scenarios",
        json={"operation": "send", "outcome": outcome, "count": count, **extra},
        timeout=5,
    )
    assert response.status_code == 201


def outbox_row(message_id: int) -> OutboxMessage:
    db.session.rollback()
    return db.session.get(OutboxMessage, message_id, populate_existing=True)


def write_sms(body="Your code is 493021", phone="+66 81 234 5678") -> int:
    message = send_sms(phone, body, kind="test")
    db.session.commit()  # the queued task runs after this commit (at once in these tests)
    return message.id


class TestPhoneNumbers:
    def test_numbers_are_kept_as_e164(self):
        assert normalise_phone("+66 81-234-5678") == "+66812345678"
        assert normalise_phone("081 234 5678", "TH") == "+66812345678"
        assert is_phone_number("+66812345678") and not is_phone_number("8966000000000000012")

    @pytest.mark.parametrize("text", ["", "hello", "+1 555", "0812345678", "+" + "9" * 40])
    def test_what_is_not_a_number_is_refused_with_a_reason(self, text):
        with pytest.raises(InvalidPhone):
            normalise_phone(text)


class TestSettings:
    def test_sandbox_and_live_refuse_to_start_without_credentials(self):
        with pytest.raises(SmsConfigError, match="TWILIO_ACCOUNT_SID"):
            sms_settings({"SMS_MODE": "live"})
        with pytest.raises(SmsConfigError, match="SMS_MODE"):
            sms_settings({"SMS_MODE": "carrier-pigeon"})

    def test_live_talks_to_twilio_itself(self):
        live = sms_settings(
            {
                "SMS_MODE": "live",
                "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
                "TWILIO_AUTH_TOKEN": "token",
                "SMS_SENDER": "+15017122661",
            }
        )
        assert live.endpoint == "https://api.twilio.com"


class TestGatewayAgainstTheSimulator:
    """Twilio's official client, over HTTP, answered as Twilio answers."""

    def test_a_message_is_accepted_and_reaches_the_phone(self, app, phone_network):
        sid = build_sms_gateway(app.config).send("+66812345678", "Hello from Wanderdata")
        assert sid.startswith("SM") and len(sid) == 34
        [message] = phone_network.state.to("+66812345678")
        assert (message.sid, message.body) == (sid, "Hello from Wanderdata")

    def test_a_wrong_token_is_refused_for_good(self, app, phone_network):
        gateway = build_sms_gateway({**app.config, "TWILIO_AUTH_TOKEN": "not-the-token"})
        with pytest.raises(SmsRejected, match="20003"):
            gateway.send("+66812345678", "Hello")
        assert phone_network.state.messages == []

    def test_a_provider_failure_is_worth_a_retry_and_a_refusal_is_not(self, app, phone_network):
        gateway = build_sms_gateway(app.config)
        scenario(phone_network, "error")
        with pytest.raises(SmsUnavailable):
            gateway.send("+66812345678", "Hello")
        scenario(phone_network, "reject")
        with pytest.raises(SmsRejected, match="21610"):
            gateway.send("+66812345678", "Hello")

    def test_a_provider_that_does_not_answer_in_time_is_unavailable(self, app, phone_network):
        gateway = build_sms_gateway({**app.config, "SMS_TIMEOUT_SECONDS": 0.3})
        scenario(phone_network, "delay", seconds=1.0)
        with pytest.raises(SmsUnavailable):
            gateway.send("+66812345678", "Hello")
        # Twilio may still take a message whose answer came too late (its Messages API has no
        # idempotency key): the retry can then send it twice. Wait for it here, so that it
        # does not land in the next test.
        deadline = time.monotonic() + 3
        while not phone_network.state.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(phone_network.state.messages) == 1

    def test_nothing_listening_is_unavailable(self, app):
        gateway = build_sms_gateway({**app.config, "SMS_SIMULATOR_URL": "http://127.0.0.1:9"})
        with pytest.raises(SmsUnavailable):
            gateway.send("+66812345678", "Hello")


class TestThroughTheOutbox:
    def test_a_text_message_is_sent_by_its_task_and_recorded(self, app, phone_network):
        message_id = write_sms()
        row = outbox_row(message_id)
        assert (row.channel, row.status, row.recipient) == (
            Channel.SMS,
            OutboxStatus.SENT,
            "+66812345678",
        )
        assert row.provider_id == phone_network.state.messages[0].sid
        tasks.send_outbox_message(message_id)  # delivered twice: sent once
        assert len(phone_network.state.messages) == 1

    def test_it_is_retried_while_the_provider_fails_and_sent_once_it_recovers(
        self, app, phone_network, monkeypatch, caplog
    ):
        caplog.set_level(logging.DEBUG)
        now = [utcnow()]
        monkeypatch.setattr(mail_services, "utcnow", lambda: now[0])
        scenario(phone_network, "error", count=2)
        message_id = write_sms(body="Your code is 493021")
        assert (outbox_row(message_id).status, outbox_row(message_id).attempts) == (
            OutboxStatus.RETRY,
            1,
        )
        now[0] += RETRY_DELAYS[0] + timedelta(seconds=1)
        tasks.send_due_mail()
        assert outbox_row(message_id).attempts == 2
        now[0] += RETRY_DELAYS[1] + timedelta(seconds=1)
        tasks.send_due_mail()
        sent = outbox_row(message_id)
        assert (sent.status, sent.attempts) == (OutboxStatus.SENT, 3)
        assert len(phone_network.state.messages) == 1
        assert "493021" not in caplog.text

    def test_a_refused_number_fails_at_once_and_is_not_retried(self, app, phone_network):
        scenario(phone_network, "reject")
        message_id = write_sms()
        row = outbox_row(message_id)
        assert row.status == OutboxStatus.FAILED and "21610" in row.error
        tasks.send_due_mail()
        assert phone_network.state.messages == []

    def test_a_bad_number_is_refused_before_anything_is_written(self, app):
        with pytest.raises(InvalidPhone):
            send_sms("not a phone", "Hello")
        db.session.rollback()
        assert db.session.execute(db.select(OutboxMessage)).first() is None


def test_a_customer_saves_a_mobile_number_and_bad_input_changes_nothing(client, login):
    user = login("customer")
    bad = client.post("/account/phone", data={"phone": "call me maybe"})
    assert bad.status_code == 422
    assert "country code" in bad.get_data(as_text=True)
    db.session.refresh(user)
    assert user.phone == ""
    assert client.post("/account/phone", data={"phone": "+66 81 234 5678"}).status_code == 303
    db.session.refresh(user)
    assert user.phone == "+66812345678"
    assert client.post("/account/phone", data={"phone": ""}).status_code == 303
    db.session.refresh(user)
    assert user.phone == ""


def test_a_payment_code_goes_by_text_message_to_the_account_phone(
    app, client, login, phone_network
):
    app.config["PAYMENT_CODE_ENABLED"] = True
    user = login("customer")
    client.post("/account/phone", data={"phone": "+66812345678"})
    pack = make_product(sku="ASIA-10GB", price=1500)
    add_to_cart(client, pack.sku)
    order_path = place_order(client, email=user.email)
    check = db.session.execute(
        db.select(PaymentCheck).filter_by(order_id=order_by_path(order_path).id)
    ).scalar_one()
    assert (check.channel, check.destination) == ("sms", "+66812345678")
    assert "text message" in client.get(order_path).get_data(as_text=True)
    client.post(with_action(order_path, "pay"))
    [message] = phone_network.state.to("+66812345678")
    code = message.body.split(" is ")[1][:6]
    assert code.isdigit()
    assert client.post(with_action(order_path, "code"), data={"code": code}).status_code == 303


def sold_voucher(agent_id):
    """Return one active voucher of the agent, its PIN in clear."""
    pack = make_product(price=1000)
    return make_vouchers(pack, 1, agent_id=agent_id)[0]


class TestPinToThePhone:
    """Counter staff send a sold voucher's PIN to the customer's phone."""

    def test_the_pin_reaches_the_phone_and_the_audit_names_the_number_not_the_pin(
        self, client, login, phone_network, caplog
    ):
        caplog.set_level(logging.DEBUG)
        staff = login("agent_staff")
        sold = sold_voucher(staff.agent_id)
        page = client.get(f"/counter/vouchers/{sold.serial}").get_data(as_text=True)
        assert "Send the PIN by text message" in page
        response = client.post(
            f"/counter/vouchers/{sold.serial}/send-pin", data={"phone": "+66 81 234 5678"}
        )
        assert response.status_code == 303
        [message] = phone_network.state.to("+66812345678")
        assert sold.pin in message.body.replace(" ", "")
        event = db.session.execute(
            db.select(AuditEvent).filter_by(action="voucher.pin_sent")
        ).scalar_one()
        assert event.details["phone"] == "+66812345678" and event.object_id == sold.serial
        assert sold.pin not in str(event.details) and sold.pin not in caplog.text.replace(" ", "")

    def test_bad_numbers_other_shops_vouchers_and_used_vouchers_are_refused(
        self, client, login, phone_network
    ):
        staff = login("agent_staff")
        sold = sold_voucher(staff.agent_id)
        foreign = sold_voucher(make_agent().id)
        assert (
            client.post(f"/counter/vouchers/{sold.serial}/send-pin", data={"phone": "x"})
        ).status_code == 422
        assert (
            client.post(
                f"/counter/vouchers/{foreign.serial}/send-pin", data={"phone": "+66812345678"}
            )
        ).status_code == 404
        db.session.execute(
            db.update(Voucher).filter_by(serial=sold.serial).values(status=VoucherStatus.VOID)
        )
        db.session.commit()
        refused = client.post(
            f"/counter/vouchers/{sold.serial}/send-pin",
            data={"phone": "+66812345678"},
            follow_redirects=True,
        )
        assert "Only a sold, unused voucher" in refused.get_data(as_text=True)
        assert phone_network.state.messages == []

    def test_one_pin_is_sent_three_times_at_most(self, client, login, phone_network):
        staff = login("agent_staff")
        sold = sold_voucher(staff.agent_id)
        for _ in range(4):
            client.post(f"/counter/vouchers/{sold.serial}/send-pin", data={"phone": "+66812345678"})
        assert len(phone_network.state.to("+66812345678")) == 3
