"""Catalog rules: which packs exist, what they contain and cost."""

import re
from dataclasses import dataclass, field

from shop.audit.services import Actor, record_event
from shop.catalog.models import Product
from shop.db import begin_write
from shop.extensions import db
from shop.money import CURRENCIES

SKU_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,39}$")
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")
#: Upper bounds that catch typos (a 10 TB pack or a 100-year validity is a mistake).
MAX_DATA_MB = 1024 * 1024
MAX_VALIDITY_DAYS = 366 * 2
MAX_PRICE_MINOR = 100_000_00


class CatalogError(Exception):
    """Base of catalog errors."""


class ProductNotFound(CatalogError):
    """No product with that SKU or id."""


class SkuTaken(CatalogError):
    """Another product already has this SKU."""


class InvalidProduct(CatalogError):
    """A product field is out of range; ``field`` names it."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


@dataclass
class ProductData:
    """The editable fields of a product."""

    sku: str
    name: str
    data_mb: int
    validity_days: int
    price: int
    currency: str = "USD"
    region: str = ""
    description: str = ""
    coverage: list[str] = field(default_factory=list)


def parse_coverage(text: str) -> list[str]:
    """Parse "th, vn MY" into ["TH", "VN", "MY"], refusing anything but two-letter codes."""
    codes = [code for code in re.split(r"[\s,;]+", (text or "").upper()) if code]
    bad = [code for code in codes if not COUNTRY_PATTERN.match(code)]
    if bad:
        raise InvalidProduct("coverage", f"not a two-letter country code: {', '.join(bad)}")
    return list(dict.fromkeys(codes))


def _validate(data: ProductData) -> ProductData:
    data.sku = (data.sku or "").strip().upper()
    if not SKU_PATTERN.match(data.sku):
        raise InvalidProduct("sku", "2-40 letters, digits or dashes")
    data.name = (data.name or "").strip()
    if not data.name or len(data.name) > 120:
        raise InvalidProduct("name", "1-120 characters")
    checks = (
        ("data_mb", data.data_mb, MAX_DATA_MB),
        ("validity_days", data.validity_days, MAX_VALIDITY_DAYS),
        ("price", data.price, MAX_PRICE_MINOR),
    )
    for name, value, upper in checks:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= upper:
            raise InvalidProduct(name, f"a whole number from 1 to {upper}")
    if data.currency not in CURRENCIES:
        raise InvalidProduct("currency", f"one of {', '.join(CURRENCIES)}")
    data.coverage = parse_coverage(",".join(data.coverage))
    return data


def list_active_products() -> list[Product]:
    """Return the packs on sale, grouped by region and cheapest first."""
    query = (
        db.select(Product)
        .filter_by(active=True)
        .order_by(Product.region, Product.price, Product.sku)
    )
    return list(db.session.execute(query).scalars())


def list_all_products() -> list[Product]:
    """Return every pack, active or not, for the admin."""
    query = db.select(Product).order_by(Product.active.desc(), Product.region, Product.sku)
    return list(db.session.execute(query).scalars())


def get_product(product_id: int) -> Product:
    """Return the product with this id."""
    product = db.session.get(Product, product_id)
    if product is None:
        raise ProductNotFound(str(product_id))
    return product


def get_product_by_sku(sku: str, *, active_only: bool = True) -> Product:
    """Return the product with this SKU (only an active one unless told otherwise)."""
    query = db.select(Product).filter_by(sku=(sku or "").strip().upper())
    if active_only:
        query = query.filter_by(active=True)
    product = db.session.execute(query).scalar_one_or_none()
    if product is None:
        raise ProductNotFound(sku)
    return product


def _sku_taken(sku: str, except_id: int | None = None) -> bool:
    query = db.select(Product.id).filter_by(sku=sku)
    if except_id is not None:
        query = query.filter(Product.id != except_id)
    return db.session.execute(query).first() is not None


def _apply(product: Product, data: ProductData) -> None:
    product.sku = data.sku
    product.name = data.name
    product.description = (data.description or "").strip()
    product.region = (data.region or "").strip()
    product.data_mb = data.data_mb
    product.validity_days = data.validity_days
    product.price = data.price
    product.currency = data.currency
    product.coverage_codes = ",".join(data.coverage)


def create_product(data: ProductData, actor: Actor | None = None) -> Product:
    """Add a pack to the catalog and commit."""
    begin_write(db.session)
    data = _validate(data)
    if _sku_taken(data.sku):
        raise SkuTaken(data.sku)
    product = Product()
    _apply(product, data)
    db.session.add(product)
    db.session.flush()
    record_event(
        "product.created",
        actor,
        object_type="product",
        object_id=product.sku,
        details={"price": product.price, "currency": product.currency},
    )
    db.session.commit()
    return product


def update_product(product_id: int, data: ProductData, actor: Actor | None = None) -> Product:
    """Change a pack's fields and commit; vouchers already sold keep their own face value.

    The SKU never changes: resellers' point-of-sale systems and sold vouchers refer to it.
    """
    begin_write(db.session)
    product = get_product(product_id)
    data = _validate(data)
    if data.sku != product.sku:
        raise InvalidProduct("sku", "the SKU of an existing pack cannot change")
    _apply(product, data)
    record_event(
        "product.updated",
        actor,
        object_type="product",
        object_id=product.sku,
        details={"price": product.price, "currency": product.currency},
    )
    db.session.commit()
    return product


def set_product_active(product_id: int, active: bool, actor: Actor | None = None) -> Product:
    """Put a pack on sale or take it off sale, and commit."""
    begin_write(db.session)
    product = get_product(product_id)
    product.active = active
    record_event(
        "product.activated" if active else "product.deactivated",
        actor,
        object_type="product",
        object_id=product.sku,
    )
    db.session.commit()
    return product
