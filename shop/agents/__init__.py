"""Agents: physical shops selling vouchers out of a prepaid float."""
