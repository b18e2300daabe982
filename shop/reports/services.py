"""Report use cases shared by the pages and the API: the period asked for and the dashboard."""

from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from shop.reports import periods, queries
from shop.reports.charts import BarChart, daily_chart

#: Days the dashboard's chart covers, today included.
DASHBOARD_DAYS = 30


def operator_zone():
    """Return the operator's configured time zone (``REPORT_TIMEZONE``)."""
    return periods.report_zone(current_app.config["REPORT_TIMEZONE"])


@dataclass
class Dashboard:
    """Today's and this month's sales, and the last 30 days as a chart."""

    today: queries.SalesReport
    month: queries.SalesReport
    recent: queries.SalesReport
    chart: BarChart


def dashboard(
    *, agent_id: int | None, currency: str | None, now: datetime | None = None
) -> Dashboard:
    """Return the dashboard figures of one agent, or of every agent keeping ``currency``."""
    zone = operator_zone()
    today = queries.sales_report(
        periods.preset_period("today", zone, now), agent_id=agent_id, currency=currency
    )
    month = queries.sales_report(
        periods.preset_period("this_month", zone, now), agent_id=agent_id, currency=currency
    )
    recent = queries.sales_report(
        periods.last_days(DASHBOARD_DAYS, zone, now), agent_id=agent_id, currency=currency
    )
    return Dashboard(today, month, recent, daily_chart(recent, width=600, height=180))
