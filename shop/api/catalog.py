"""``GET /api/v1/products``: the packs on sale."""

from flask import jsonify

from shop.api import bp
from shop.catalog import services
from shop.money import money_json


def product_json(product) -> dict:
    """Return the API representation of a product."""
    return {
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "region": product.region,
        "data_mb": product.data_mb,
        "validity_days": product.validity_days,
        "price": money_json(product.price, product.currency),
        "coverage": product.coverage,
    }


@bp.get("/products")
def list_products():
    """List the active products."""
    return jsonify({"products": [product_json(p) for p in services.list_active_products()]})
