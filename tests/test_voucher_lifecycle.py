"""The voucher status machine, batch generation (invariant 6), export and disabling of stock."""

import csv
import hashlib
import io
from datetime import timedelta

import pytest
from markupsafe import escape
from sqlalchemy import func, select, update

from shop.audit.models import AuditEvent
from shop.audit.services import Actor
from shop.cards.models import Card
from shop.catalog import services as catalog_services
from shop.extensions import db
from shop.timeutil import utcnow
from shop.vouchers import batches, lifecycle, services
from shop.vouchers.lifecycle import ForbiddenTransition
from shop.vouchers.models import Voucher, VoucherBatch, VoucherStatus
from shop.vouchers.pins import format_pin
from tests.factories import make_agent, make_card, make_product, make_user
from tests.vouchers_helpers import make_vouchers, pin_spellings

S = VoucherStatus
ALLOWED = [
    (S.INACTIVE, S.ACTIVE),
    (S.ACTIVE, S.REDEEMED),
    (S.ACTIVE, S.VOID),
    (S.INACTIVE, S.EXPIRED),
    (S.ACTIVE, S.EXPIRED),
]
FORBIDDEN = [(source, target) for source in S for target in S if (source, target) not in ALLOWED]
ACTOR = Actor(label="test", ip_address="192.0.2.1")


def count(model, **filters) -> int:
    query = select(func.count()).select_from(model)
    for name, value in filters.items():
        query = query.where(getattr(model, name) == value)
    return db.session.execute(query).scalar_one()


def reload(voucher_id: int) -> Voucher:
    db.session.expire_all()
    return db.session.get(Voucher, voucher_id)


def voucher_events() -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action.startswith("voucher."))
    return list(db.session.execute(query).scalars())


def vouchers_in(status: VoucherStatus, product, how_many: int = 1) -> list[Voucher]:
    """Vouchers put straight into ``status`` (no audit trail of their own)."""
    issued = make_vouchers(product, how_many, inactive=True)
    ids = [voucher.id for voucher in issued]
    db.session.execute(update(Voucher).where(Voucher.id.in_(ids)).values(status=status))
    db.session.commit()
    return [reload(voucher_id) for voucher_id in ids]


# --- the status machine ---------------------------------------------------------------------


def test_the_machine_allows_exactly_the_designed_moves():
    for source in S:
        for target in S:
            assert lifecycle.allowed(source, target) == ((source, target) in ALLOWED)


@pytest.mark.parametrize(("source", "target"), ALLOWED, ids=lambda s: s.value)
def test_an_allowed_move_changes_status_stamps_the_time_and_is_audited(app, source, target):
    (voucher,) = vouchers_in(source, make_product())
    before = utcnow()

    assert lifecycle.transition_one(voucher, target, ACTOR) is True
    db.session.commit()

    moved = reload(voucher.id)
    assert moved.status == target
    stamp = getattr(moved, lifecycle.STAMPS[target])
    assert before <= stamp <= utcnow()
    (event,) = voucher_events()
    assert event.action == f"voucher.{target.value}"
    assert event.object_type == "voucher"
    assert event.object_id == voucher.serial
    assert event.actor_label == "test"


@pytest.mark.parametrize("source", list(S), ids=lambda s: s.value)
def test_a_forbidden_move_changes_nothing_and_is_not_audited(app, source):
    targets = [target for (from_status, target) in FORBIDDEN if from_status == source]
    vouchers = vouchers_in(source, make_product(), len(targets))
    untouched = {
        voucher.id: {column: getattr(voucher, column) for column in lifecycle.STAMPS.values()}
        for voucher in vouchers
    }

    for voucher, target in zip(vouchers, targets, strict=True):
        if target == S.INACTIVE:
            with pytest.raises(ForbiddenTransition):
                lifecycle.transition_one(voucher, target, ACTOR)
        else:
            assert lifecycle.transition_one(voucher, target, ACTOR) is False, target
        db.session.commit()

    for voucher in vouchers:
        after = reload(voucher.id)
        assert after.status == source
        assert {column: getattr(after, column) for column in lifecycle.STAMPS.values()} == (
            untouched[voucher.id]
        )
    assert voucher_events() == []


def test_a_redeemed_voucher_can_never_move_again(app):
    (voucher,) = vouchers_in(S.ACTIVE, make_product())
    assert lifecycle.transition_one(voucher, S.REDEEMED, ACTOR)
    db.session.commit()

    for target in (S.ACTIVE, S.REDEEMED, S.VOID, S.EXPIRED):
        assert lifecycle.transition_one(reload(voucher.id), target, ACTOR) is False
    db.session.commit()

    assert reload(voucher.id).status == S.REDEEMED
    assert [event.action for event in voucher_events()] == ["voucher.redeemed"]


def test_a_bulk_move_takes_only_the_vouchers_whose_status_allows_it(app):
    product = make_product()
    by_status = {status: vouchers_in(status, product)[0] for status in S}

    moved = lifecycle.transition([v.id for v in by_status.values()], S.EXPIRED, ACTOR)
    db.session.commit()

    assert sorted(moved) == sorted([by_status[S.INACTIVE].id, by_status[S.ACTIVE].id])
    for status, voucher in by_status.items():
        expected = S.EXPIRED if status in (S.INACTIVE, S.ACTIVE) else status
        assert reload(voucher.id).status == expected
    assert sorted(event.object_id for event in voucher_events()) == sorted(
        [by_status[S.INACTIVE].serial, by_status[S.ACTIVE].serial]
    )


# --- generating batches: all or nothing --------------------------------------------------------


def test_a_generated_batch_has_the_vouchers_asked_for(app):
    product = make_product(price=750, data_mb=2048, validity_days=15)

    generated = batches.generate_batch(product, 20, inactive=True, shelf_life_days=90, actor=ACTOR)

    batch = generated.batch
    assert (batch.quantity, batch.initial_status) == (20, S.INACTIVE)
    vouchers = db.session.execute(select(Voucher).filter_by(batch_id=batch.id)).scalars().all()
    assert len(vouchers) == 20
    assert {v.status for v in vouchers} == {S.INACTIVE}
    assert {(v.face_value, v.data_mb, v.validity_days) for v in vouchers} == {(750, 2048, 15)}
    assert all(v.sold_at is None for v in vouchers)
    assert abs(batch.expires_at - (batch.created_at + timedelta(days=90))) < timedelta(seconds=1)
    assert generated.vouchers == []  # no clear PINs unless asked for
    assert count(AuditEvent, action="batch.generated") == 1


def test_a_failure_half_way_through_a_batch_leaves_nothing_behind(app):
    product = make_product()
    progress = []

    def fail_half_way(done):
        progress.append(done)
        if done >= 500:
            raise RuntimeError("printer on fire")

    with pytest.raises(RuntimeError, match="printer on fire"):
        batches.generate_batch(product, 1000, chunk_size=100, progress=fail_half_way)

    assert progress == [100, 200, 300, 400, 500]
    db.session.rollback()
    assert count(Voucher) == 0
    assert count(VoucherBatch) == 0
    assert count(AuditEvent, action="batch.generated") == 0


@pytest.mark.parametrize(
    ("count_asked", "changes"),
    [(0, {}), (-3, {}), (batches.MAX_BATCH_SIZE + 1, {}), (5, {"shelf_life_days": 0})],
)
def test_a_batch_out_of_range_is_refused_and_creates_nothing(app, count_asked, changes):
    product = make_product()
    with pytest.raises(batches.InvalidBatch):
        batches.generate_batch(product, count_asked, **changes)
    assert count(VoucherBatch) == 0


def test_a_pack_off_sale_gets_no_vouchers(app):
    product = catalog_services.set_product_active(make_product().id, False)
    with pytest.raises(batches.InvalidBatch) as refused:
        batches.generate_batch(product, 5)
    assert refused.value.field == "sku"
    assert count(Voucher) == 0


# --- the command line -----------------------------------------------------------------------


def generate(runner, *args):
    result = runner.invoke(args=["vouchers", "generate", *args])
    db.session.rollback()
    return result


def test_cli_generates_a_batch_of_active_vouchers(runner):
    make_product(sku="ASIA-10GB")

    result = generate(runner, "--sku", "ASIA-10GB", "--count", "5")

    assert result.exit_code == 0, result.output + result.stderr
    batch = db.session.execute(select(VoucherBatch)).scalar_one()
    assert batch.quantity == 5
    statuses = db.session.execute(select(Voucher.status).filter_by(batch_id=batch.id)).scalars()
    assert list(statuses) == [S.ACTIVE] * 5
    assert f"Batch {batch.id}: 5 active vouchers of ASIA-10GB" in result.output


def test_cli_generates_inactive_stock_for_an_agent(runner):
    make_product(sku="ASIA-10GB")
    agent = make_agent(code="BKK1")

    result = generate(runner, "--sku", "asia-10gb", "--count", "3", "--inactive", "--agent", "BKK1")

    assert result.exit_code == 0, result.output + result.stderr
    batch = db.session.execute(select(VoucherBatch)).scalar_one()
    vouchers = db.session.execute(select(Voucher).filter_by(batch_id=batch.id)).scalars().all()
    assert [(v.status, v.agent_id) for v in vouchers] == [(S.INACTIVE, agent.id)] * 3


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--sku", "NO-SUCH-PACK", "--count", "5"], ["NO-SUCH-PACK"]),
        (["--sku", "ASIA-10GB", "--count", "5", "--agent", "NOBODY"], ["NOBODY"]),
        (["--sku", "ASIA-10GB", "--count", "0"], ["count"]),
        (["--sku", "ASIA-10GB", "--count", "1000000"], ["count"]),
        (["--sku", "ASIA-10GB", "--count", "many"], ["count"]),
        (["--sku", "ASIA-10GB", "--count", "5", "--shelf-life-days", "0"], ["shelf-life-days"]),
    ],
)
def test_cli_refuses_bad_input_and_generates_nothing(runner, args, words):
    make_product(sku="ASIA-10GB")

    result = generate(runner, *args)

    assert result.exit_code != 0
    assert "Error:" in result.stderr
    for word in words:
        assert word.lower() in result.stderr.lower()
    assert "Traceback" not in result.output + result.stderr
    assert count(VoucherBatch) == 0


# --- disabling lost or stolen stock ---------------------------------------------------------


def test_disabling_a_serial_range_expires_only_unredeemed_vouchers_in_it(app, client):
    product = make_product()
    card = make_card()
    issued = make_vouchers(product, 10)
    serials = [voucher.serial for voucher in issued]
    batch_id = reload(issued[0].id).batch_id
    services.redeem_voucher(issued[3].pin, card.number, channel="api", actor=ACTOR)
    lifecycle.transition_one(reload(issued[4].id), S.VOID, ACTOR)
    db.session.commit()

    disabled = batches.disable_vouchers(
        batch_id, ACTOR, first_serial=serials[2], last_serial=serials[7], reason="box stolen"
    )

    assert disabled == 4  # positions 3, 6, 7, 8: not the redeemed one, not the void one
    statuses = [reload(voucher.id).status for voucher in issued]
    assert statuses == [
        S.ACTIVE,
        S.ACTIVE,
        S.EXPIRED,
        S.REDEEMED,
        S.VOID,
        S.EXPIRED,
        S.EXPIRED,
        S.EXPIRED,
        S.ACTIVE,
        S.ACTIVE,
    ]
    assert count(AuditEvent, action="voucher.expired") == 4
    assert count(AuditEvent, action="batch.disabled") == 1

    balance = db.session.get(Card, card.id).data_balance_mb
    response = client.post("/api/v1/redemptions", json={"pin": issued[5].pin, "card": card.number})
    assert response.status_code == 410
    assert response.get_json()["error"]["code"] == "voucher_expired"
    assert db.session.get(Card, card.id).data_balance_mb == balance


def test_disabling_a_whole_inactive_batch(app):
    product = make_product()
    issued = make_vouchers(product, 6, inactive=True)
    batch_id = reload(issued[0].id).batch_id

    assert batches.disable_vouchers(batch_id, ACTOR, reason="lost in transit") == 6

    assert {reload(voucher.id).status for voucher in issued} == {S.EXPIRED}
    assert batches.disable_vouchers(batch_id, ACTOR, reason="again") == 0


def test_a_serial_range_typed_in_groups_disables_exactly_that_range(app):
    # Serials are accepted with spaces or dashes everywhere else (normalise_serial); a range
    # typed that way must not silently become "from the first voucher of the batch".
    issued = make_vouchers(make_product(), 6)
    batch_id = reload(issued[0].id).batch_id
    first, last = issued[2].serial, issued[3].serial

    disabled = batches.disable_vouchers(
        batch_id, ACTOR, first_serial=f"{first[:7]} {first[7:]}", last_serial=last, reason="lost"
    )

    statuses = [reload(voucher.id).status for voucher in issued]
    assert statuses == [S.ACTIVE, S.ACTIVE, S.EXPIRED, S.EXPIRED, S.ACTIVE, S.ACTIVE]
    assert disabled == 2


@pytest.mark.parametrize("bound", ["first_serial", "last_serial"])
@pytest.mark.parametrize("typed", ["see box 7", "full-width"])
def test_a_serial_range_with_a_bound_that_is_no_serial_is_refused(app, bound, typed):
    issued = make_vouchers(make_product(), 4)
    batch_id = reload(issued[0].id).batch_id
    if typed == "full-width":  # a real serial typed with a Chinese keyboard in full-width mode
        typed = issued[1].serial.translate(str.maketrans("0123456789", "０１２３４５６７８９"))

    with pytest.raises(batches.InvalidBatch):
        batches.disable_vouchers(batch_id, ACTOR, reason="lost", **{bound: typed})

    assert {reload(voucher.id).status for voucher in issued} == {S.ACTIVE}


def test_a_reversed_serial_range_is_refused(app):
    issued = make_vouchers(make_product(), 3)
    batch_id = reload(issued[0].id).batch_id
    with pytest.raises(batches.InvalidBatch):
        batches.disable_vouchers(
            batch_id, ACTOR, first_serial=issued[2].serial, last_serial=issued[0].serial
        )
    assert {reload(voucher.id).status for voucher in issued} == {S.ACTIVE}


# --- exporting pre-printed stock for the print house ----------------------------------------


def test_an_inactive_batch_is_exported_once_with_its_real_pins(app):
    admin = make_user("admin")
    actor = Actor.for_user(admin, "192.0.2.7")
    product = make_product(sku="EU-5GB", price=1500)
    issued = make_vouchers(product, 5, inactive=True)
    batch_id = reload(issued[0].id).batch_id

    filename, content = batches.export_batch_csv(batch_id, actor)

    assert filename == f"batch-{batch_id}-pins.csv"
    rows = list(csv.reader(io.StringIO(content.decode("utf-8"))))
    assert rows[0] == ["serial", "pin", "sku", "face_value", "currency", "expires_at"]
    assert {row[0]: row[1] for row in rows[1:]} == {v.serial: format_pin(v.pin) for v in issued}
    assert {(row[2], row[3], row[4]) for row in rows[1:]} == {("EU-5GB", "1500", "USD")}
    db.session.expire_all()
    batch = db.session.get(VoucherBatch, batch_id)
    assert batch.export_sha256 == hashlib.sha256(content).hexdigest()
    assert batch.exported_at is not None and batch.exported_by_id == admin.id
    event = db.session.execute(select(AuditEvent).filter_by(action="batch.exported")).scalar_one()
    assert event.object_id == str(batch_id)
    assert event.actor_id == admin.id
    assert event.details["sha256"] == batch.export_sha256

    with pytest.raises(batches.ExportRefused):
        batches.export_batch_csv(batch_id, actor)
    db.session.expire_all()
    assert (
        db.session.get(VoucherBatch, batch_id).export_sha256 == hashlib.sha256(content).hexdigest()
    )
    assert count(AuditEvent, action="batch.exported") == 1


def test_an_active_batch_cannot_be_exported(app):
    issued = make_vouchers(make_product(), 2)
    batch_id = reload(issued[0].id).batch_id

    with pytest.raises(batches.ExportRefused):
        batches.export_batch_csv(batch_id, ACTOR)

    db.session.expire_all()
    assert db.session.get(VoucherBatch, batch_id).exported_at is None
    assert count(AuditEvent, action="batch.exported") == 0


# --- the admin's pages ----------------------------------------------------------------------


def batch_pins(batch_id: int) -> list[str]:
    db.session.expire_all()
    vouchers = db.session.execute(select(Voucher).filter_by(batch_id=batch_id)).scalars()
    return [services.reveal_pin(voucher) for voucher in vouchers]


def assert_no_pin_on_page(page: str, pins: list[str]) -> None:
    for pin in pins:
        for spelling in pin_spellings(pin):
            assert spelling not in page


def test_admin_generates_a_batch_from_the_web_page_without_seeing_pins(client, login):
    login("admin")
    make_product(sku="ASIA-10GB")
    agent = make_agent(code="BKK1")
    assert client.get("/admin/vouchers").status_code == 200

    response = client.post(
        "/admin/vouchers/batches",
        data={
            "sku": "ASIA-10GB",
            "count": "25",
            "agent": "BKK1",
            "inactive": "y",
            "shelf_life_days": "30",
            "note": "Print run 7",
        },
    )

    assert response.status_code == 302
    batch = db.session.execute(select(VoucherBatch)).scalar_one()
    assert response.headers["Location"] == f"/admin/vouchers/batches/{batch.id}"
    assert (batch.quantity, batch.initial_status, batch.agent_id) == (25, S.INACTIVE, agent.id)
    assert batch.note == "Print run 7"
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f"Batch {batch.id} generated: 25 vouchers." in text
    pins = batch_pins(batch.id)
    assert len(pins) == 25
    assert_no_pin_on_page(text, pins)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sku": "NO-SUCH"}, "No pack on sale has this SKU."),
        ({"agent": "NOBODY"}, "No agent has this code."),
        ({"count": "0"}, "Number must be"),
        ({"count": "lots"}, "Not a valid integer value"),
        ({"shelf_life_days": "0"}, "Number must be"),
    ],
)
def test_admin_bad_batch_input_is_explained_and_generates_nothing(client, login, changes, message):
    login("admin")
    make_product(sku="ASIA-10GB")
    form = {"sku": "ASIA-10GB", "count": "5", "shelf_life_days": "30", **changes}

    response = client.post("/admin/vouchers/batches", data=form)

    assert response.status_code == 400
    assert str(escape(message)) in response.get_data(as_text=True)
    assert count(VoucherBatch) == 0


def test_admin_finds_a_voucher_by_serial(client, login):
    login("admin")
    (voucher,) = make_vouchers(make_product(), 1)
    spaced = f"{voucher.serial[:7]} {voucher.serial[7:]}"

    response = client.get("/admin/vouchers", query_string={"serial": spaced})

    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/vouchers/{voucher.serial}"
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert voucher.serial in page.get_data(as_text=True)
    assert_no_pin_on_page(page.get_data(as_text=True), [voucher.pin])
    unknown = client.get("/admin/vouchers", query_string={"serial": "00000000000000"})
    assert unknown.status_code == 200
    assert "No voucher has this serial." in unknown.get_data(as_text=True)


def test_admin_downloads_an_inactive_batch_once(client, login):
    login("admin")
    issued = make_vouchers(make_product(), 4, inactive=True)
    batch_id = reload(issued[0].id).batch_id
    url = f"/admin/vouchers/batches/{batch_id}/export"

    first = client.post(url)

    assert first.status_code == 200
    assert first.mimetype == "text/csv"
    assert "attachment" in first.headers["Content-Disposition"]
    assert first.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(first.get_data(as_text=True))))
    assert {row["serial"]: row["pin"] for row in rows} == {
        v.serial: format_pin(v.pin) for v in issued
    }
    second = client.post(url)
    assert second.status_code == 302
    assert second.headers["Location"] == f"/admin/vouchers/batches/{batch_id}"
    page = client.get(second.headers["Location"]).get_data(as_text=True)
    assert "Only an inactive batch can be exported, and only once." in page
    assert_no_pin_on_page(page, [voucher.pin for voucher in issued])
    assert count(AuditEvent, action="batch.exported") == 1


@pytest.mark.parametrize("role", ["customer", "agent_manager"])
def test_only_admins_reach_the_voucher_admin_pages(client, login, role):
    login(role)
    make_product(sku="ASIA-10GB")
    issued = make_vouchers(make_product(), 2, inactive=True)
    batch_id = reload(issued[0].id).batch_id

    assert client.get("/admin/vouchers").status_code == 403
    assert client.get(f"/admin/vouchers/batches/{batch_id}").status_code == 403
    assert client.get(f"/admin/vouchers/{issued[0].serial}").status_code == 403
    generate_page = client.post(
        "/admin/vouchers/batches", data={"sku": "ASIA-10GB", "count": "5", "shelf_life_days": "30"}
    )
    assert generate_page.status_code == 403
    export = client.post(f"/admin/vouchers/batches/{batch_id}/export")
    assert export.status_code == 403
    disable = client.post(f"/admin/vouchers/batches/{batch_id}/disable", data={"reason": "x"})
    assert disable.status_code == 403

    db.session.expire_all()
    assert count(VoucherBatch) == 1
    assert db.session.get(VoucherBatch, batch_id).exported_at is None
    assert {reload(voucher.id).status for voucher in issued} == {S.INACTIVE}


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/admin/vouchers")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
