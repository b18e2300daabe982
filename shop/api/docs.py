"""``GET /api/v1/openapi.json``: the OpenAPI 3 description of this API."""

import json
from functools import cache
from importlib import resources

from flask import jsonify

from shop.api import bp


@cache
def openapi_document() -> dict:
    """Return the OpenAPI document shipped with the package."""
    return json.loads(resources.files("shop.api").joinpath("openapi.json").read_text("utf-8"))


@bp.get("/openapi.json")
def openapi():
    """Serve the OpenAPI document."""
    return jsonify(openapi_document())
