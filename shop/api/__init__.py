"""JSON API v1: one blueprint under ``/api/v1``, routes grouped by noun in this package."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from shop.api import (  # noqa: E402, F401  (routes register on bp)
    agents,
    cards,
    catalog,
    docs,
    redemptions,
    reports,
    subagents,
)
