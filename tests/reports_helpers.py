"""A shop with sales to report on: two agents, staff, two packs, voids, top-ups and stock."""

from dataclasses import dataclass

from shop.agents import sales
from shop.agents import services as agent_services
from shop.audit.services import Actor
from shop.vouchers import batches
from shop.vouchers import services as voucher_services
from tests.factories import make_agent, make_card, make_product, make_user


@dataclass
class SalesWorld:
    """What :func:`sales_world` made."""

    agent: object
    other: object
    manager: object
    staff: list
    packs: list


def sales_world(agent_name="Lotus 旅行社", pack_name="亚洲 10 GB") -> SalesWorld:
    """Sell, void, top up, activate stock and redeem for agent A; sell a little for agent B."""
    agent = make_agent(name=agent_name, discount_bps=1500)
    other = make_agent(name="Other Shop", discount_bps=1000)
    agent_services.credit_agent(agent.code, 100_000, note="opening")
    agent_services.credit_agent(other.code, 50_000, note="opening")
    cheap = make_product(price=500)
    dear = make_product(price=1299, name=pack_name)
    manager = make_user(role="agent_manager", agent=agent)
    staff = [make_user(role="agent_staff", agent=agent) for _ in range(2)]
    first, second = (Actor.for_user(user) for user in staff)

    sold = sales.sell_vouchers(agent.id, cheap.sku, 3, first)
    sales.sell_vouchers(agent.id, dear.sku, 2, second)
    sales.sell_vouchers(agent.id, dear.sku, 1, Actor(label="api-key:1"))
    sales.void_sale(agent.id, sold.vouchers[0].serial, first)
    sales.counter_top_up(agent.id, dear.sku, make_card().number, first, channel="counter")
    stock = batches.generate_batch(cheap, 4, agent_id=agent.id, inactive=True, keep_pins=True)
    sales.activate_stock(agent.id, stock.vouchers[0].serial, second)
    voucher_services.redeem_voucher(
        sold.vouchers[1].pin, make_card().number, channel="web", actor=Actor.system()
    )
    sales.sell_vouchers(other.id, cheap.sku, 4, Actor.system())
    return SalesWorld(agent, other, manager, staff, [cheap, dear])
