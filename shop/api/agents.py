"""Agent endpoints: the agent's float, selling and voiding vouchers, printing, counter top-ups."""

from flask import g, jsonify, request

from shop.agents import ledger, sales
from shop.agents.models import Agent
from shop.agents.tree import scope_ids
from shop.api import bp
from shop.api.auth import agent_key_required, agent_scope, api_actor
from shop.api.cards import card_json, iso
from shop.api.errors import ApiError, invalid_request
from shop.api.idempotency import idempotent
from shop.api.redemptions import API_MESSAGES, topup_json
from shop.api.validation import json_body, required_string
from shop.cards.numbers import InvalidCardNumber
from shop.cards.services import CardNotFound, CardSuspended
from shop.catalog.services import ProductNotFound
from shop.extensions import db
from shop.money import money_json
from shop.vouchers import batches, printing
from shop.vouchers import services as voucher_services
from shop.vouchers.models import Voucher
from shop.web import download_response

#: Batches printed within one request; larger stock batches print from the CLI.
MAX_PRINT = 1000


def _agent() -> Agent:
    return db.session.get(Agent, g.agent_id)


def agent_json(agent: Agent) -> dict:
    """Return the API representation of an agent."""
    return {
        "code": agent.code,
        "name": agent.name,
        "status": agent.status.value,
        "balance": money_json(agent.balance, agent.currency),
        "credit_limit": money_json(agent.credit_limit, agent.currency),
        "discount_bps": agent.discount_bps,
    }


def voucher_json(voucher: Voucher) -> dict:
    """Return the API representation of a voucher (never its PIN)."""
    return {
        "serial": voucher.serial,
        "sku": voucher.product.sku,
        "status": voucher.status.value,
        "expires_at": iso(voucher.expires_at),
        "sold_at": iso(voucher.sold_at),
        "redeemed_at": iso(voucher.redeemed_at),
        "voided_at": iso(voucher.voided_at),
        "face_value": money_json(voucher.face_value, voucher.currency),
        "agent": db.session.get(Agent, voucher.agent_id).code if voucher.agent_id else None,
    }


def _sale_errors(exc: Exception) -> ApiError:
    """Map the errors a sale or top-up can raise to the API's codes."""
    if isinstance(exc, ledger.InsufficientCredit):
        return ApiError(
            402, "insufficient_credit", "The float (with its credit limit) cannot pay for this."
        )
    if isinstance(exc, ledger.AgentSuspended):
        if exc.agent_code:
            return ApiError(
                403,
                "agent_suspended",
                f"Agent {exc.agent_code}, above this one, is suspended: its whole subtree "
                "can sell nothing.",
                fields={"suspended_agent": exc.agent_code},
            )
        return ApiError(403, "agent_suspended", "This agent is suspended and can sell nothing.")
    if isinstance(exc, ProductNotFound):
        return ApiError(404, "product_not_found", "No pack on sale has this SKU.")
    if isinstance(exc, sales.CurrencyMismatch):
        return invalid_request(
            "The pack is priced in another currency than the float.", {"sku": "currency"}
        )
    if isinstance(exc, sales.InvalidQuantity):
        return invalid_request(
            "'quantity' must be a whole number from 1 to 100.", {"quantity": "1 to 100"}
        )
    if isinstance(exc, InvalidCardNumber):
        return ApiError(
            422,
            "invalid_card_number",
            f"Not a valid card number: {exc}.",
            fields={"card": str(exc)},
        )
    if isinstance(exc, CardNotFound):
        return ApiError(404, "card_not_found", API_MESSAGES["card_not_found"])
    if isinstance(exc, CardSuspended):
        return ApiError(409, "card_suspended", API_MESSAGES["card_suspended"])
    raise exc


SALE_ERRORS = (
    ledger.FloatError,
    ProductNotFound,
    sales.SaleError,
    InvalidCardNumber,
    CardNotFound,
    CardSuspended,
)


@bp.get("/agent")
@agent_key_required
def get_agent():
    """Return the calling agent with its float."""
    return jsonify(agent_json(_agent()))


@bp.post("/vouchers")
@agent_key_required
@idempotent(agent_scope)
def create_vouchers():
    """Sell 1 to 100 vouchers, debiting their wholesale cost from the float in one transaction."""
    data = json_body()
    sku = required_string(data, "sku", 40)
    quantity = data.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise invalid_request(
            "'quantity' must be a whole number from 1 to 100.", {"quantity": "1 to 100"}
        )
    try:
        sale = sales.sell_vouchers(g.agent_id, sku, quantity, api_actor())
    except SALE_ERRORS as exc:
        raise _sale_errors(exc) from None
    agent = _agent()
    body = {
        "batch": str(sale.batch.id),
        "vouchers": [
            {
                "serial": voucher.serial,
                "pin": voucher.pin,
                "sku": sale.batch.product.sku,
                "status": voucher.status.value,
                "expires_at": iso(voucher.expires_at),
                "face_value": money_json(voucher.face_value, voucher.currency),
            }
            for voucher in sale.vouchers
        ],
        "cost": money_json(sale.cost, agent.currency),
        "balance": money_json(sale.balance, agent.currency),
        "pdf_url": f"/api/v1/batches/{sale.batch.id}.pdf",
    }
    response = jsonify(body)
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/batches/<id:batch_id>.pdf")
@agent_key_required
def batch_pdf(batch_id):
    """Return the printable vouchers of one of the agent's batches (A4 or 80 mm receipt)."""
    layout = request.args.get("format", "a4")
    if layout not in ("a4", "receipt"):
        raise invalid_request("'format' is a4 or receipt.", {"format": "a4 or receipt"})
    try:
        batch = batches.get_batch(batch_id, agent_id=g.agent_id)
    except batches.BatchNotFound:
        raise ApiError(404, "batch_not_found", "No batch of this agent has this id.") from None
    if batch.quantity > MAX_PRINT:
        raise ApiError(
            422, "batch_too_large", f"Batches over {MAX_PRINT} vouchers print from the CLI."
        )
    content = printing.print_batch(batch, layout, api_actor())
    return download_response(content, f"vouchers-{batch.id}-{layout}.pdf")


@bp.get("/vouchers/<serial>")
@agent_key_required
def get_voucher(serial):
    """Return a voucher of the agent or of an agent below it, by serial (never a PIN)."""
    voucher = voucher_services.get_voucher_by_serial(serial)
    if voucher is not None and voucher.agent_id not in scope_ids(g.agent_id):
        voucher = None
    if voucher is None:
        raise ApiError(404, "voucher_not_found", "No voucher of this agent has this serial.")
    return jsonify(voucher_json(voucher))


@bp.post("/vouchers/<serial>/void")
@agent_key_required
@idempotent(agent_scope)
def void_voucher(serial):
    """Void an unredeemed voucher within the void window; its cost goes back to the float."""
    try:
        voucher, balance = sales.void_sale(g.agent_id, serial, api_actor())
    except voucher_services.VoucherNotFound:
        raise ApiError(
            404, "voucher_not_found", "No voucher of this agent has this serial."
        ) from None
    except sales.VoidWindowPassed:
        raise ApiError(
            409, "void_window_passed", "The void window for this voucher has passed."
        ) from None
    except ledger.InsufficientCredit:
        raise ApiError(
            409,
            "commission_not_returnable",
            "An agent above cannot give back its commission on this sale now.",
        ) from None
    except voucher_services.RedemptionError as exc:
        raise ApiError(
            409, exc.code, API_MESSAGES.get(exc.code, "The voucher cannot be voided.")
        ) from None
    db.session.refresh(voucher)
    body = voucher_json(voucher)
    body["balance"] = money_json(balance, _agent().currency)
    return jsonify(body)


@bp.post("/topups")
@agent_key_required
@idempotent(agent_scope)
def create_topup():
    """Top a card up at the counter without a voucher, paid from the float."""
    data = json_body()
    sku = required_string(data, "sku", 40)
    card = required_string(data, "card", 40)
    try:
        topup, product, balance = sales.counter_top_up(
            g.agent_id, sku, card, api_actor(), channel="api"
        )
    except SALE_ERRORS as exc:
        raise _sale_errors(exc) from None
    body = {
        "topup": topup_json(topup, product.sku),
        "card": card_json(topup.card),
        "balance": money_json(balance, _agent().currency),
    }
    return jsonify(body), 201
