"""Data packs: what the shop sells."""

from datetime import datetime

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.timeutil import utcnow


class Product(db.Model):
    """A data pack, for example "Asia 10 GB / 30 days"."""

    __tablename__ = "product"
    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("data_mb > 0", name="data_positive"),
        CheckConstraint("validity_days > 0", name="validity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    #: Region label shown to customers ("Asia", "Europe", "Global").
    region: Mapped[str] = mapped_column(String(60), default="")
    data_mb: Mapped[int]
    validity_days: Mapped[int]
    #: Face value in minor units of ``currency``.
    price: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    #: ISO 3166 alpha-2 country codes, comma separated ("TH,VN,MY").
    coverage_codes: Mapped[str] = mapped_column(String(800), default="")
    active: Mapped[bool] = mapped_column(default=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def coverage(self) -> list[str]:
        """Return the covered country codes as a list."""
        return [code for code in self.coverage_codes.split(",") if code]

    def __repr__(self) -> str:
        return f"<Product {self.sku}>"
