"""The sales CSV: one row per sale, for Excel (UTF-8 with BOM) and safe from formula injection.

Columns, in order (README "Reports" documents them too):

``kind``            ``voucher`` or ``topup`` (a counter top-up paid from the float)
``sold_at_utc``     when it was sold, ISO 8601 in UTC
``local_date``      the report day it belongs to, in ``REPORT_TIMEZONE``
``agent_code``, ``agent_name``
``staff``           e-mail of the seller; empty for API sales
``reference``       the voucher serial, or ``topup:<id>``
``sku``, ``pack``
``status``          voucher status now (``active``, ``redeemed``, ``void``, ``expired``);
                    ``applied`` for top-ups
``counted``         ``1`` if the row counts as a sale, ``0`` for a voided voucher
``face_value_minor``, ``cost_minor``, ``margin_minor``  integer minor units
``currency``

The earnings CSV has a row per sale and level of the tree the reader may see: ``sold_at_utc``,
``local_date``, ``seller_code``, ``reference`` (serial or ``topup:<id>``), ``level``,
``agent_code`` (who earned it), ``buy_price_minor``, ``earning_minor``, ``counted`` and
``currency``.
"""

from shop.csv_export import csv_bytes
from shop.reports.earnings import earning_rows
from shop.reports.periods import Period
from shop.reports.queries import sale_rows

HEADER = [
    "kind",
    "sold_at_utc",
    "local_date",
    "agent_code",
    "agent_name",
    "staff",
    "reference",
    "sku",
    "pack",
    "status",
    "counted",
    "face_value_minor",
    "cost_minor",
    "margin_minor",
    "currency",
]


def sales_csv(period: Period, *, agent_id: int | None = None, currency: str = "USD") -> bytes:
    """Return the CSV of every sale of the period (voided vouchers marked ``counted = 0``)."""
    rows = (
        (
            row.kind,
            row.sold_at.isoformat(),
            period.local_date(row.sold_at).isoformat(),
            row.agent_code,
            row.agent_name,
            row.seller,
            row.reference,
            row.sku,
            row.pack,
            row.status,
            1 if row.counted else 0,
            row.face_value,
            row.cost,
            row.face_value - row.cost,
            row.currency,
        )
        for row in sale_rows(period, agent_id=agent_id, currency=currency)
    )
    return csv_bytes(HEADER, rows)


EARNINGS_HEADER = [
    "sold_at_utc",
    "local_date",
    "seller_code",
    "reference",
    "level",
    "agent_code",
    "buy_price_minor",
    "earning_minor",
    "counted",
    "currency",
]


def earnings_csv(period: Period, *, agent_id: int | None = None, currency: str = "USD") -> bytes:
    """Return the CSV of each level's earning on every sale of the period (a row per level)."""
    rows = (
        (
            row.sold_at.isoformat(),
            period.local_date(row.sold_at).isoformat(),
            row.seller_code,
            row.reference,
            row.level,
            row.agent_code,
            row.buy_price,
            row.amount,
            1 if row.counted else 0,
            row.currency,
        )
        for row in earning_rows(period, agent_id=agent_id, currency=currency)
    )
    return csv_bytes(EARNINGS_HEADER, rows)


def csv_filename(period: Period, scope: str) -> str:
    """Return the download name of a sales CSV."""
    return f"sales-{scope}-{period.first.isoformat()}-{period.last.isoformat()}.csv"
