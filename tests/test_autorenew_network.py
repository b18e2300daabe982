"""Auto-renew against the network simulator: the card runs dry there, the shop renews it once."""

import pytest

from shop.autorenew.models import RenewalOutcome
from shop.cards import services as card_services
from shop.cards.models import DeliveryStatus, TopUpSource
from shop.extensions import db
from shop.jobs import tasks
from tests.autorenew_helpers import PRICE, auto_topups, owner, renewal_entries, renewals, rule_for
from tests.customer_wallet_helpers import balance, fund
from tests.factories import make_card, make_product
from tests.network_helpers import delivery_of, empty_network


@pytest.fixture
def network():
    """The network simulator, serving for the test."""
    with empty_network() as simulator:
        yield simulator


@pytest.fixture
def app_config(network):
    return {**network.shop_config(), "NETWORK_REFRESH_SECONDS": 0}


def test_a_card_used_up_on_the_network_is_renewed_once_and_the_pack_lands_there(app, network):
    user = owner()
    card = make_card(owner=user)
    network.state.add_card(card.number)
    card_services.apply_pack(
        card_services.lock_card(card.number),
        card_services.PackGrant(make_product(data_mb=1024).id, 1024, 30),
        source=TopUpSource.ADMIN,
        channel="cli",
    )
    db.session.commit()  # delivered at commit: the first pack period begins
    rule_for(user, card, product=make_product(price=PRICE, data_mb=3072))
    fund(user.id, 2 * PRICE)
    network.state.use_data(card.number, 1024)

    tasks.sync_network_cards()  # the shop learns the card is used up: the trigger
    tasks.sync_network_cards()
    tasks.renew_due_cards()

    (renewal,) = renewals(card.id)
    assert renewal.outcome == RenewalOutcome.RENEWED
    (topup,) = auto_topups(card.id)
    assert delivery_of(topup.id).status == DeliveryStatus.DELIVERED
    assert [pack.data_mb for pack in network.state.packs_of(card.number)] == [1024, 3072]
    assert len(renewal_entries(user.id)) == 1 and balance(user.id) == PRICE

    tasks.sync_network_cards()  # the network now reports the new pack: nothing is due
    tasks.renew_due_cards()
    assert len(renewals(card.id)) == 1
