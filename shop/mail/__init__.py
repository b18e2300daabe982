"""Outgoing e-mail and its outbox."""
