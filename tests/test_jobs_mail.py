"""Mail goes out through the job queue: retried with backoff while SMTP is down, sent once.

A real SMTP server (aiosmtpd) listens on loopback; it refuses recipients while ``refusing``
is set, as a server in trouble does, and keeps what it accepts. The clock the mail service
reads is moved forward instead of waiting for the backoff.
"""

import logging
import socket
import threading
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from shop.extensions import db
from shop.jobs import tasks
from shop.jobs.queue import huey
from shop.mail import services as mail_services
from shop.mail.models import OutboxMessage, OutboxStatus
from shop.mail.services import RETRY_DELAYS, send_mail
from shop.timeutil import utcnow

PORTS = range(5150, 5200)


def free_port() -> int:
    """Return a port of this branch's range that nobody listens on."""
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 5150-5199")


class Mailbox:
    """An SMTP server that keeps accepted messages, or refuses every recipient."""

    def __init__(self, port: int):
        self.port = port
        self.messages: list[bytes] = []
        self.refusing = False
        self.controller = None

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until ``start``."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.refusing:
            return "451 4.3.0 Mail server busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(envelope.content)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def mailbox(smtp_port):
    """A running SMTP server on ``smtp_port``."""
    box = Mailbox(smtp_port)
    box.start()
    yield box
    box.stop()


@pytest.fixture
def app_config(smtp_port):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port}


class Clock:
    """The mail service's clock, moved forward by the test."""

    def __init__(self, monkeypatch):
        self.now = utcnow()
        monkeypatch.setattr(mail_services, "utcnow", lambda: self.now)

    def advance(self, delta: timedelta) -> None:
        self.now += delta + timedelta(seconds=1)


def outbox_row(message_id: int) -> OutboxMessage:
    db.session.rollback()
    return db.session.get(OutboxMessage, message_id, populate_existing=True)


def write_mail(body="Your order is on its way.", **kwargs) -> int:
    message = send_mail("traveller@example.com", "Order WD-1", body, kind="order", **kwargs)
    db.session.commit()  # the queued task runs after this commit (at once in these tests)
    return message.id


def test_a_mail_is_retried_while_smtp_refuses_and_sent_once_when_it_comes_back(
    app, mailbox, monkeypatch, caplog
):
    clock = Clock(monkeypatch)
    mailbox.refusing = True
    caplog.set_level(logging.INFO)
    message_id = write_mail(body="PIN 1234 5678 9012 3456", contains_secrets=True)
    first = outbox_row(message_id)
    assert (first.status, first.attempts) == (OutboxStatus.RETRY, 1)
    assert "451" in first.error
    assert first.next_attempt_at == clock.now + RETRY_DELAYS[0]

    tasks.send_due_mail()  # not due yet: nothing happens
    assert outbox_row(message_id).attempts == 1

    clock.advance(RETRY_DELAYS[0])
    tasks.send_due_mail()
    second = outbox_row(message_id)
    assert (second.status, second.attempts) == (OutboxStatus.RETRY, 2)
    assert second.next_attempt_at == clock.now + RETRY_DELAYS[1]

    mailbox.refusing = False
    clock.advance(RETRY_DELAYS[1])
    tasks.send_due_mail()
    sent = outbox_row(message_id)
    assert (sent.status, sent.attempts, sent.error) == (OutboxStatus.SENT, 3, "")
    assert sent.sent_at is not None
    assert len(mailbox.messages) == 1
    assert b"PIN 1234 5678 9012 3456" in mailbox.messages[0]

    clock.advance(timedelta(hours=3))
    tasks.send_due_mail()
    tasks.send_outbox_message(message_id)
    assert len(mailbox.messages) == 1, "a sent mail is never sent again"
    assert "1234" not in caplog.text, "the body with PINs is never logged"


def test_after_its_last_backoff_a_mail_is_failed_shown_to_the_admin_and_can_be_resent(
    app, client, login, mailbox, monkeypatch
):
    clock = Clock(monkeypatch)
    mailbox.stop()  # the server is down: connections are refused
    message_id = write_mail()
    waits = []
    for delay in RETRY_DELAYS:
        row = outbox_row(message_id)
        assert row.status == OutboxStatus.RETRY
        waits.append(row.next_attempt_at - clock.now)
        clock.advance(delay)
        tasks.send_due_mail()
    assert (
        waits
        == list(RETRY_DELAYS)
        == [
            timedelta(minutes=1),
            timedelta(minutes=5),
            timedelta(minutes=30),
            timedelta(hours=2),
        ]
    )
    failed = outbox_row(message_id)
    assert (failed.status, failed.attempts) == (OutboxStatus.FAILED, 5)
    assert failed.error

    clock.advance(timedelta(days=1))
    tasks.send_due_mail()
    assert outbox_row(message_id).attempts == 5, "a failed mail waits for the admin"

    login("admin")
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "traveller@example.com" in page and "Resend to traveller@example.com" in page
    mailbox.start()
    response = client.post(f"/admin/jobs/mail/{message_id}/resend")
    assert response.status_code == 302
    assert outbox_row(message_id).status == OutboxStatus.SENT
    assert len(mailbox.messages) == 1
    again = client.post(f"/admin/jobs/mail/{message_id}/resend", follow_redirects=True)
    assert "Only a failed mail can be sent again." in again.get_data(as_text=True)
    assert len(mailbox.messages) == 1


class TestOnAQueue:
    """Tasks wait in a real (SQLite file) queue instead of running where they are queued."""

    @pytest.fixture
    def app_config(self, smtp_port, tmp_path):
        return {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": smtp_port,
            "JOBS_IMMEDIATE": False,
            "JOBS_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        }

    def test_a_task_delivered_twice_sends_one_mail(self, app, mailbox):
        message_id = write_mail()
        assert outbox_row(message_id).status == OutboxStatus.PENDING
        assert huey.pending_count() == 1
        task = huey.dequeue()
        huey.execute(task)
        huey.execute(task)
        assert len(mailbox.messages) == 1
        assert outbox_row(message_id).attempts == 1

    def test_the_page_of_jobs_counts_the_mail_waiting_to_be_sent(self, client, login, mailbox):
        write_mail()
        login("admin")
        page = client.get("/admin/jobs").get_data(as_text=True)
        assert "Waiting to be sent: 1 new, 0 to retry, 0 being sent." in page

    def test_two_workers_taking_one_mail_at_once_send_it_once(self, app, mailbox):
        message_id = write_mail()
        start = threading.Barrier(4)
        outcomes = []

        def worker():
            with app.app_context():
                start.wait(timeout=10)
                outcomes.append(mail_services.deliver_message(message_id) is not None)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == [False, False, False, True]
        assert len(mailbox.messages) == 1

    def test_the_sweeper_sends_a_mail_whose_task_was_lost(self, app, mailbox):
        message_id = write_mail()
        huey.flush()  # the queue lost the task
        tasks.send_due_mail.call_local()
        huey.execute(huey.dequeue())
        assert outbox_row(message_id).status == OutboxStatus.SENT
        assert len(mailbox.messages) == 1


def test_a_mail_whose_worker_died_mid_send_is_failed_and_not_sent_again(app, mailbox):
    mailbox.stop()
    message_id = write_mail()
    db.session.execute(
        db.update(OutboxMessage)
        .filter_by(id=message_id)
        .values(status=OutboxStatus.SENDING, claimed_at=utcnow() - timedelta(minutes=10))
    )
    db.session.commit()
    mailbox.start()
    report = tasks.reap()
    assert report.abandoned_mails == [message_id]
    row = outbox_row(message_id)
    assert (row.status, row.error) == (OutboxStatus.FAILED, mail_services.WORKER_DIED)
    tasks.send_due_mail()
    assert mailbox.messages == [], "the server may have it already: at most once"


def test_without_a_mail_server_a_mail_is_kept_unsent_and_no_task_is_queued(app_config, app):
    app.config["MAIL_SERVER"] = ""
    message_id = write_mail()
    row = outbox_row(message_id)
    assert (row.status, row.attempts, row.sent_at) == (OutboxStatus.UNSENT, 0, None)
    assert mail_services.due_message_ids() == []


def test_the_low_float_mail_goes_out_through_the_outbox_like_every_mail(app, mailbox):
    from shop.agents.sales import sell_vouchers
    from shop.agents.services import credit_agent
    from shop.audit.services import Actor
    from tests.factories import make_agent, make_product, make_user

    app.config["LOW_FLOAT_THRESHOLD"] = 10_000
    shop = make_agent(discount_bps=1000)
    make_user("agent_manager", agent=shop, email="manager@example.com")
    product = make_product(price=1500)
    credit_agent(shop.code, 11_000)
    sell_vouchers(shop.id, product.sku, 1, Actor.system("test"))  # 11,000 -> 9,650: crossed
    row = db.session.execute(db.select(OutboxMessage).filter_by(kind="low_float")).scalar_one()
    assert (row.recipient, row.status, row.attempts) == ("manager@example.com", "sent", 1)
    assert len(mailbox.messages) == 1 and b"Low float at" in mailbox.messages[0]
