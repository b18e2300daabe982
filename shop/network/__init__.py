"""The operator's network: the gateway to it, its adapters, its events, top-up delivery.

``shop.network`` sits just above ``shop.cards``: cards write a ``TopUpDelivery`` beside each
top-up; this package applies it on the network (``delivery``), keeps the network's figures of
each card (``status``), and takes the network's signed callbacks (``events``). It never
imports a package above it; the job queue calls into it.
"""
