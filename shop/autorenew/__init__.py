"""Auto-renew: a card's pack bought from its owner's wallet before the card runs dry.

The owner of a card picks a pack, a trigger (validity ends within 24 hours, data used up, or
less than N MB left) and an optional monthly cap. When the network reports the trigger, or the
periodic check finds it, a job buys the pack from the wallet and applies it to the card, once
per trigger: the renewal's key is the card, the rule and the pack period it renews.
"""
