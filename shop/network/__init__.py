"""The operator's network: the gateway to it, its adapters, its events, top-up delivery.

``shop.network`` sits just above ``shop.cards``: cards write a ``TopUpDelivery`` beside each
top-up; this package applies it on the network (``delivery``), keeps the network's figures of
each card (``status``), and takes the network's signed callbacks (``events``). It never
imports a package above it; the job queue calls into it.
"""


def init_app(app) -> None:
    """Refresh a card from the network when a person looks it up (connected once)."""
    from shop.cards.services import card_looked_up
    from shop.network.status import refresh_on_look

    card_looked_up.connect(refresh_on_look)
    app.extensions["network"] = True
