"""Alerts to a card's owner: data running low or used up, validity ending or ended.

Sits beside the storefront (it reads the orders that name a card's buyer): the network's
package announces new figures of a card (``network.status.card_figures_changed``) and this
package decides, once per pack period and kind, what to tell the owner by e-mail and SMS.
"""


def init_app(app) -> None:
    """Check a card's alerts whenever the network's figures of it change (connected once)."""
    from shop.alerts.services import check_after_change
    from shop.network.status import card_figures_changed

    card_figures_changed.connect(check_after_change)
    app.extensions["alerts"] = True
