"""Invariant 5: the database alone never reveals a PIN; keyed hashes find it, keys can rotate."""

import base64
import hashlib
import hmac

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from shop.audit.models import AuditEvent
from shop.audit.services import Actor
from shop.cards.models import Card
from shop.extensions import db
from shop.vouchers import batches, services
from shop.vouchers.crypto import NONCE_BYTES, HmacSha256, PinVault
from shop.vouchers.models import Voucher, VoucherStatus
from shop.vouchers.pins import generate_pin
from tests.conftest import TEST_SECRETS
from tests.factories import make_card, make_product
from tests.vouchers_helpers import make_vouchers, pin_spellings

ACTOR = Actor(label="test", ip_address="192.0.2.1")
NEW_HMAC_HEX = "22" * 32
NEW_ENCRYPTION_KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()


def dump(table) -> str:
    """Every column of every row of ``table``, as text."""
    rows = db.session.execute(select(table)).all()
    return "\n".join("|".join(str(value) for value in row) for row in rows)


def assert_no_pin_in(text: str, pins: list[str]) -> None:
    for pin in pins:
        for spelling in pin_spellings(pin):
            assert spelling not in text, f"PIN {spelling} found in the database dump"


def reload(voucher_id: int) -> Voucher:
    db.session.expire_all()
    return db.session.get(Voucher, voucher_id)


def test_voucher_rows_never_hold_a_pin_in_clear(app):
    product = make_product()
    issued = make_vouchers(product, 50)
    pins = [voucher.pin for voucher in issued]
    assert len(set(pins)) == 50

    voucher_dump = dump(Voucher.__table__)

    assert voucher_dump.count("\n") == 49  # one line per voucher: the dump saw every row
    for voucher in issued:
        assert voucher.serial in voucher_dump
    assert_no_pin_in(voucher_dump, pins)


def test_audit_trail_and_every_other_table_hold_no_pin(app):
    product = make_product()
    issued = make_vouchers(product, 5, actor=ACTOR)
    card = make_card()
    services.redeem_voucher(issued[0].pin, card.number, channel="api", actor=ACTOR)
    pins = [voucher.pin for voucher in issued]

    audit_dump = dump(AuditEvent.__table__)

    assert "batch.generated" in audit_dump
    assert "voucher.redeemed" in audit_dump
    assert_no_pin_in(audit_dump, pins)
    for table in db.metadata.sorted_tables:
        assert_no_pin_in(dump(table), pins)


def test_an_authorised_reprint_reveals_the_original_pin(app):
    product = make_product()
    issued = make_vouchers(product, 3)

    for voucher in issued:
        assert services.reveal_pin(reload(voucher.id)) == voucher.pin


def test_a_sealed_pin_copied_onto_another_voucher_does_not_open(app):
    product = make_product()
    first, second = make_vouchers(product, 2)
    stolen = reload(first.id).pin_ciphertext
    db.session.execute(update(Voucher).where(Voucher.id == second.id).values(pin_ciphertext=stolen))
    db.session.commit()

    with pytest.raises(InvalidTag):
        services.reveal_pin(reload(second.id))
    assert services.reveal_pin(reload(first.id)) == first.pin


def test_after_key_rotation_old_vouchers_still_work_and_new_ones_use_the_new_keys(app):
    product = make_product(data_mb=1000)
    old_redeem, old_reprint = make_vouchers(product, 2)
    assert reload(old_redeem.id).pin_hash_key == "h1"
    assert reload(old_redeem.id).pin_key == "k1"

    app.config["PIN_HMAC_KEY"] = f"h2:{NEW_HMAC_HEX},h1:{TEST_SECRETS['PIN_HMAC_KEY']}"
    app.config["PIN_ENCRYPTION_KEYS"] = (
        f"k2:{NEW_ENCRYPTION_KEY},{TEST_SECRETS['PIN_ENCRYPTION_KEYS']}"
    )
    (new,) = make_vouchers(product, 1)
    card = make_card()

    assert services.reveal_pin(reload(old_reprint.id)) == old_reprint.pin
    services.redeem_voucher(old_redeem.pin, card.number, channel="api", actor=ACTOR)
    stored_new = reload(new.id)
    assert (stored_new.pin_hash_key, stored_new.pin_key) == ("h2", "k2")
    assert services.reveal_pin(stored_new) == new.pin
    services.redeem_voucher(new.pin, card.number, channel="api", actor=ACTOR)
    db.session.expire_all()
    assert reload(old_redeem.id).status == VoucherStatus.REDEEMED
    assert reload(new.id).status == VoucherStatus.REDEEMED
    assert reload(old_reprint.id).status == VoucherStatus.ACTIVE
    assert db.session.get(Card, card.id).data_balance_mb == 2000


def test_the_prepared_hmac_gives_rfc_4231s_answer():
    # RFC 4231, test case 2 (a key shorter than the block) and 6 (a key longer than it).
    assert HmacSha256(b"Jefe").hexdigests([b"what do ya want for nothing?"]) == [
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    ]
    assert HmacSha256(b"\xaa" * 131).hexdigests(
        [b"Test Using Larger Than Block-Size Key - Hash Key First"]
    ) == ["60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"]


@settings(max_examples=200)
@given(key=st.binary(max_size=200), messages=st.lists(st.binary(max_size=100), max_size=5))
def test_the_prepared_hmac_is_hmac_sha256_for_any_key_and_message(key, messages):
    expected = [hmac.new(key, message, hashlib.sha256).hexdigest() for message in messages]
    assert HmacSha256(key).hexdigests(messages) == expected


def test_a_chunk_of_pins_hashes_as_each_pin_alone_under_the_named_key():
    vault = PinVault.from_config("h1:" + "11" * 32 + ",h0:" + "22" * 32, "k1:" + "A" * 43 + "=")
    pins = [generate_pin() for _ in range(20)]
    assert vault.pin_hashes(pins) == [vault.pin_hash(pin) for pin in pins]
    assert vault.pin_hashes(pins, "h0") == [
        hmac.new(bytes.fromhex("22" * 32), pin.encode(), hashlib.sha256).hexdigest() for pin in pins
    ]
    assert vault.lookup_hashes(pins[0]) == [
        vault.pin_hash(pins[0], "h1"),
        vault.pin_hash(pins[0], "h0"),
    ]


def test_pins_sealed_many_at_once_open_each_under_its_own_serial_only():
    vault = PinVault.from_config(TEST_SECRETS["PIN_HMAC_KEY"], TEST_SECRETS["PIN_ENCRYPTION_KEYS"])
    pins = [generate_pin() for _ in range(50)]
    serials = [f"{number:014d}" for number in range(50)]

    tokens = vault.encrypt_pins(pins, serials)

    opened = [
        vault.decrypt(token, serial, "k1") for token, serial in zip(tokens, serials, strict=True)
    ]
    assert opened == pins
    nonces = {base64.b64decode(token)[:NONCE_BYTES] for token in tokens}
    assert len(nonces) == 50  # a fresh nonce for every PIN
    with pytest.raises(InvalidTag):
        vault.decrypt(tokens[0], serials[1], "k1")
    with pytest.raises(ValueError):
        vault.encrypt_pins(pins, serials[:-1])


def test_two_hundred_thousand_pins_are_all_different():
    pins = {generate_pin() for _ in range(200_000)}
    assert len(pins) == 200_000


def test_the_database_refuses_two_vouchers_with_one_pin_hash(app):
    product = make_product()
    (voucher,) = make_vouchers(product, 1)
    row = dict(
        db.session.execute(select(Voucher.__table__).filter_by(id=voucher.id)).one()._mapping
    )
    row.pop("id")
    row["serial"] = row["serial"][:-3] + "999"

    with pytest.raises(IntegrityError):
        db.session.execute(insert(Voucher.__table__).values(**row))
        db.session.flush()
    db.session.rollback()
    count = db.session.execute(select(db.func.count(Voucher.id))).scalar_one()
    assert count == 1


def test_a_batch_whose_pin_collides_is_drawn_again(app, monkeypatch):
    product = make_product()
    (existing,) = make_vouchers(product, 1)
    real_generate_pins = batches.generate_pins
    drawn = []

    def colliding_once(count):
        pins = real_generate_pins(count)
        if not drawn:
            pins[1] = existing.pin
        drawn.extend(pins)
        return pins

    monkeypatch.setattr(batches, "generate_pins", colliding_once)

    issued = make_vouchers(product, 3)

    assert len(drawn) == 6  # the first draw of 3 collided and was thrown away
    assert existing.pin not in {voucher.pin for voucher in issued}
    hashes = db.session.execute(select(Voucher.pin_hash)).scalars().all()
    assert len(hashes) == len(set(hashes)) == 4
