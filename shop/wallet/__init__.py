"""Customers' wallets: a balance per account and currency, kept in the shop's one ledger.

A wallet is topped up through checkout (a wallet top-up is an order line, fulfilled once like
every order), pays orders and automatic renewals, and receives refunds of what it paid.
Adjustments by the operator carry a reason and are audited.
"""
