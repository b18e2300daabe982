"""Report pages: the dashboard, sales (HTML, CSV, PDF), and the operator's settlement and stock.

Agent managers see their own agent and every sub-agent below it (``?agent=CODE`` narrows to one
of them); admins see every agent, or one agent's subtree with ``?agent=CODE``.
Counter staff see no reports (the counter shows their own sales of the day).
"""

import contextlib

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from shop.agents import services as agent_services
from shop.agents import tree as agent_tree
from shop.agents.access import current_agent
from shop.auth.decorators import admin_required, role_required
from shop.auth.models import Role
from shop.reports import periods, queries, services
from shop.reports import storefront as storefront_reports
from shop.reports.charts import daily_chart
from shop.reports.pdf import render_sales_report
from shop.reports.sales_csv import csv_filename, earnings_csv, sales_csv
from shop.timeutil import utcnow
from shop.web import download_response

bp = Blueprint("reports", __name__, url_prefix="/reports")

#: Agent managers (their own agent) and admins (every agent).
report_readers = role_required(Role.AGENT_MANAGER)

PRESET_LABELS = {
    "today": _l("Today"),
    "yesterday": _l("Yesterday"),
    "this_week": _l("This week"),
    "this_month": _l("This month"),
    "last_month": _l("Last month"),
    "custom": _l("Custom dates"),
}


def _problem_text(problem: str) -> str:
    return {
        "required": _("Enter a date."),
        "not_a_date": _("Enter a date as YYYY-MM-DD."),
        "after_to": _("The end date is before the start date."),
        "too_long": _("Choose a period of at most %(days)d days.", days=periods.MAX_DAYS),
    }.get(problem, _("Choose one of the periods offered."))


class _Scope:
    """Whose sales a page shows: one agent, or all agents of one currency (admins)."""

    def __init__(self):
        self.currencies = []
        #: The agents of a manager's subtree it may narrow the report to (none: no sub-agents).
        self.choices = []
        if current_user.has_role(Role.ADMIN) and current_user.agent_id is None:
            code = request.args.get("agent", "").strip()
            if code:
                try:
                    self.agent = agent_services.get_agent_by_code(code)
                except agent_services.AgentNotFound:
                    abort(404)
            else:
                self.agent = None
                self.currencies = queries.agent_currencies() or ["USD"]
        else:
            # A manager reads its own agent's subtree; ``agent=`` picks an agent within it
            # (anything outside it is ignored: the manager's own agent is shown).
            self.agent = current_agent()
            subtree = agent_tree.subtree(self.agent)
            self.choices = subtree if len(subtree) > 1 else []
            code = request.args.get("agent", "").strip()
            if code:
                with contextlib.suppress(agent_services.AgentNotFound):
                    self.agent = agent_tree.descendant(self.agent, code, include_root=True)
        chosen = request.args.get("currency", "")
        self.currency = (
            self.agent.currency
            if self.agent
            else (chosen if chosen in self.currencies else self.currencies[0])
        )

    @property
    def agent_id(self):
        return self.agent.id if self.agent else None

    @property
    def file_label(self) -> str:
        return self.agent.code if self.agent else f"all-{self.currency}"

    def link_args(self) -> dict:
        """Return the query arguments that keep this scope in links."""
        if self.agent is not None and (
            current_user.has_role(Role.ADMIN) or self.agent.id != current_user.agent_id
        ):
            return {"agent": self.agent.code}
        return {} if self.agent else {"currency": self.currency}


def _requested_period():
    """Return (period, errors) from the query string; errors map a field to a message."""
    zone = services.operator_zone()
    preset = request.args.get("preset") or None
    try:
        period = periods.requested_period(
            preset, request.args.get("from"), request.args.get("to"), zone
        )
    except periods.InvalidPeriod as exc:
        return None, {name: _problem_text(problem) for name, problem in exc.problems.items()}
    return period, {}


def _form_values(period) -> dict:
    """Return the period form as asked, or set to the default period when none was asked."""
    custom = request.args.get("from") or request.args.get("to")
    return {
        "preset": request.args.get("preset") or ("custom" if custom else periods.DEFAULT_PRESET),
        "from": request.args.get("from") or (period.first.isoformat() if period else ""),
        "to": request.args.get("to") or (period.last.isoformat() if period else ""),
    }


@bp.route("/")
@report_readers
def dashboard():
    """Show today's and this month's sales and a chart of the last 30 days."""
    scope = _Scope()
    figures = services.dashboard(agent_id=scope.agent_id, currency=scope.currency)
    return render_template("reports/dashboard.html", scope=scope, figures=figures)


@bp.route("/sales")
@report_readers
def sales():
    """Show a period's sales, or download them as CSV (one row per sale) or PDF."""
    scope = _Scope()
    period, errors = _requested_period()
    if errors:
        return render_template(
            "reports/sales.html",
            scope=scope,
            report=None,
            errors=errors,
            form=_form_values(None),
            presets=PRESET_LABELS,
        ), 422
    kind = request.args.get("format")
    if kind == "csv":
        content = sales_csv(period, agent_id=scope.agent_id, currency=scope.currency)
        return download_response(content, csv_filename(period, scope.file_label), "text/csv")
    if kind == "earnings_csv":
        content = earnings_csv(period, agent_id=scope.agent_id, currency=scope.currency)
        name = csv_filename(period, scope.file_label).replace("sales-", "earnings-", 1)
        return download_response(content, name, "text/csv")
    report = queries.sales_report(period, agent_id=scope.agent_id, currency=scope.currency)
    if kind == "pdf":
        label = f"{scope.agent.name} ({scope.agent.code})" if scope.agent else "All agents"
        content = render_sales_report(
            report,
            shop_name=current_app.config["SHOP_NAME"],
            scope_label=label,
            generated_at=utcnow(),
        )
        name = csv_filename(period, scope.file_label).removesuffix(".csv") + ".pdf"
        return download_response(content, name)
    return render_template(
        "reports/sales.html",
        scope=scope,
        report=report,
        chart=daily_chart(report),
        errors={},
        form=_form_values(period),
        presets=PRESET_LABELS,
    )


def _period_page(template: str, name: str, compute, empty=None):
    """Render a report page whose figures ``compute(period)`` gives as ``name``."""
    period, errors = _requested_period()
    return render_template(
        template,
        period=period,
        errors=errors,
        form=_form_values(period),
        presets=PRESET_LABELS,
        **{name: compute(period) if period else empty},
    ), (422 if errors else 200)


@bp.route("/settlement")
@admin_required
def settlement():
    """Show every agent's float settlement for a period (reconciles with the ledger)."""
    return _period_page("reports/settlement.html", "rows", queries.settlements, [])


@bp.route("/storefront")
@admin_required
def storefront():
    """Show the period's online sales by pack and by promotion code."""
    return _period_page("reports/storefront.html", "report", storefront_reports.storefront_sales)


@bp.route("/stock")
@admin_required
def stock():
    """Show the unsold pre-printed vouchers each agent holds."""
    return render_template("reports/stock.html", lines=queries.stock())
