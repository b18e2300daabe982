"""Making good a top-up the network never applied: a replacement voucher, or a note to refund.

A failed delivery the operator gives up on is cancelled. A redeemed voucher cannot go back to
``active`` (its state machine has no such move), so a voucher top-up is replaced by a new
voucher of the same pack and terms, owned by the same agent, whose PIN the operator hands to
the customer; an order's or a counter sale's money goes back by the usual refund (the payment
provider, or a float adjustment), which the answer names; an operator's goodwill top-up is
only cancelled.
"""

from dataclasses import dataclass

from shop.audit.services import Actor, record_event
from shop.cards.models import TopUp, TopUpSource
from shop.db import begin_write
from shop.extensions import db
from shop.network import delivery as network_delivery
from shop.vouchers.batches import IssuedVoucher, VoucherTerms, generate_batch
from shop.vouchers.models import BatchPurpose, Voucher


@dataclass(frozen=True)
class Compensation:
    """What cancelling a failed delivery leaves to do: a voucher to hand over, or a refund."""

    source: TopUpSource
    #: The voucher serial or order number the top-up came from.
    reference: str
    replacement: IssuedVoucher | None = None


def compensate_failed_delivery(delivery_id: int, actor: Actor) -> Compensation:
    """Cancel a failed delivery and, for a voucher, issue its replacement; commit once."""
    begin_write(db.session)
    delivery = network_delivery.get_delivery(delivery_id)
    topup = db.session.get(TopUp, delivery.topup_id)
    replacement = None
    if topup.source == TopUpSource.VOUCHER:
        voucher = db.session.execute(
            db.select(Voucher).filter_by(serial=topup.reference)
        ).scalar_one()
        network_delivery.cancel_delivery(delivery_id, actor, note=f"replaced {voucher.serial}")
        (replacement,) = generate_batch(
            voucher.product,
            1,
            purpose=BatchPurpose.SALE,
            agent_id=voucher.agent_id,
            actor=actor,
            note=f"replaces {voucher.serial}: its pack never reached the network",
            keep_pins=True,
            commit=False,
            paid_for=True,
            terms=VoucherTerms(
                voucher.face_value, voucher.currency, voucher.data_mb, voucher.validity_days
            ),
        ).vouchers
        record_event(
            "voucher.replaced",
            actor,
            object_type="voucher",
            object_id=voucher.serial,
            agent_id=voucher.agent_id,
            details={"replacement": replacement.serial, "delivery": delivery_id},
        )
    else:
        network_delivery.cancel_delivery(delivery_id, actor, note="refund by hand")
    db.session.commit()
    return Compensation(topup.source, topup.reference, replacement)
