"""``GET /api/v1/reports/sales``: an agent's sales of a period, as JSON or CSV (a row per sale).

The sales are those of the key's agent and every agent below it (``agent=CODE`` narrows to
one agent of that subtree and its own sub-agents); earnings per level show only the key's
agent's level and those below.
"""

from flask import g, jsonify, request

from shop.agents import services as agent_services
from shop.agents import tree as agent_tree
from shop.agents.models import Agent
from shop.api import bp
from shop.api.auth import agent_key_required
from shop.api.errors import ApiError, invalid_request
from shop.extensions import db
from shop.money import money_json
from shop.reports import periods, queries
from shop.reports.sales_csv import csv_filename, sales_csv
from shop.reports.services import operator_zone
from shop.web import download_response

PROBLEMS = {
    "required": "required, a date YYYY-MM-DD",
    "not_a_date": "a date YYYY-MM-DD",
    "after_to": "must not be before 'from'",
    "too_long": f"the period is at most {periods.MAX_DAYS} days",
}


def _figures_json(figures: queries.Figures, currency: str) -> dict:
    return {
        "count": figures.count,
        "face_value": money_json(figures.face_value, currency),
        "cost": money_json(figures.cost, currency),
        "margin": money_json(figures.margin, currency),
    }


def report_json(report: queries.SalesReport) -> dict:
    """Return the API representation of a sales report."""
    currency = report.currency
    return {
        "from": report.period.first.isoformat(),
        "to": report.period.last.isoformat(),
        "time_zone": report.period.zone.key,
        "totals": _figures_json(report.totals, currency),
        "by_kind": {kind: _figures_json(f, currency) for kind, f in report.by_kind.items()},
        "voids": _figures_json(report.voids, currency),
        "redemption": {
            "sold": report.vouchers_sold,
            "redeemed": report.vouchers_redeemed,
            "rate_bps": report.redemption_rate_bps,
        },
        "by_product": [
            {"sku": line.code, "name": line.label, **_figures_json(line.figures, currency)}
            for line in report.by_product
        ],
        "by_day": [
            {"date": line.label, **_figures_json(line.figures, currency)} for line in report.by_day
        ],
        "by_agent": [
            {"agent": line.code, "name": line.label, **_figures_json(line.figures, currency)}
            for line in report.by_agent
        ],
        "earnings_by_level": [
            {
                "level": line.level,
                "agent": line.agent_code,
                "sales": line.sales,
                "earned": money_json(line.amount, currency),
            }
            for line in report.earnings
        ],
    }


@bp.get("/reports/sales")
@agent_key_required
def sales_report():
    """Return the agent's sales from ``from`` to ``to`` (inclusive days); ``format=csv``."""
    output = request.args.get("format", "json")
    if output not in ("json", "csv"):
        raise invalid_request("'format' is json or csv.", {"format": "json or csv"})
    scope_id = g.agent_id
    code = request.args.get("agent", "").strip()
    if code:
        own = db.session.get(Agent, g.agent_id)
        try:
            scope_id = agent_tree.descendant(own, code, include_root=True).id
        except agent_services.AgentNotFound:
            raise ApiError(
                404, "agent_not_found", "No agent of this key's subtree has this code."
            ) from None
    try:
        period = periods.parse_period(
            request.args.get("from"), request.args.get("to"), operator_zone()
        )
    except periods.InvalidPeriod as exc:
        fields = {name: PROBLEMS.get(problem, problem) for name, problem in exc.problems.items()}
        message = (
            f"The period is at most {periods.MAX_DAYS} days: ask for several shorter ones."
            if "too_long" in exc.problems.values()
            else "'from' and 'to' are days YYYY-MM-DD, 'from' not after 'to'."
        )
        raise invalid_request(message, fields) from None
    if output == "csv":
        content = sales_csv(period, agent_id=scope_id)
        return download_response(content, csv_filename(period, "agent"), "text/csv")
    return jsonify(report_json(queries.sales_report(period, agent_id=scope_id)))
