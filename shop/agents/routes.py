"""The counter screen of an agent's staff: sell, redeem, top up, look up, reprint, void."""

from datetime import datetime, time

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from shop.agents import ledger, pricing, sales, tree
from shop.agents.access import counter_staff, current_agent
from shop.agents.forms import (
    CounterRedeemForm,
    CounterTopUpForm,
    SellForm,
    SendPinForm,
    SerialForm,
)
from shop.agents.models import Agent
from shop.audit.services import record_event
from shop.autorenew.services import live_rule_for_card
from shop.cards.forms import CardLookupForm, card_number_problem
from shop.cards.numbers import InvalidCardNumber
from shop.cards.services import CardNotFound, CardSuspended, find_card, is_card_expired
from shop.catalog import services as catalog_services
from shop.extensions import db
from shop.i18n import money_filter
from shop.throttle import Throttled
from shop.timeutil import utcnow
from shop.vouchers import batches, pdf, printing
from shop.vouchers import services as voucher_services
from shop.vouchers.messages import REDEMPTION_MESSAGES, explain_refusal
from shop.vouchers.models import Voucher, VoucherStatus
from shop.vouchers.pins import InvalidPin
from shop.web import current_actor, download_response

bp = Blueprint("agents", __name__)


def _pack_choices(agent: Agent) -> list[tuple[str, str]]:
    """Return (SKU, label) of the packs this shop can sell: name, price, and what it pays."""
    return [
        (
            product.sku,
            _(
                "%(pack)s · %(price)s (your cost %(cost)s)",
                pack=product.name,
                price=money_filter(product.price, product.currency),
                cost=money_filter(pricing.buy_price(agent, product), product.currency),
            ),
        )
        for product in catalog_services.list_active_products()
        if product.currency == agent.currency
    ]


def suspended_message(exc: ledger.AgentSuspended) -> str:
    """Return why a sale is refused: this shop, or an agent above it, is suspended."""
    if exc.agent_code:
        return _(
            "Sales are stopped: %(code)s, the agent above this shop, is suspended.",
            code=exc.agent_code,
        )
    return _("This shop is suspended and cannot sell.")


def _today_start() -> datetime:
    now = utcnow()
    return datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)


def _counter_page(agent: Agent, *, sell=None, redeem=None, topup=None, status=200):
    choices = _pack_choices(agent)
    sell = sell or SellForm()
    topup = topup or CounterTopUpForm()
    sell.sku.choices = topup.sku.choices = choices
    sold_today = (
        db.session.execute(
            db.select(Voucher)
            .filter(
                Voucher.agent_id == agent.id,
                Voucher.sold_by_id == current_user.id,
                Voucher.sold_at >= _today_start(),
            )
            .order_by(Voucher.sold_at.desc())
            .limit(200)
        )
        .scalars()
        .all()
    )
    return render_template(
        "agents/counter.html",
        agent=agent,
        sell=sell,
        redeem=redeem or CounterRedeemForm(),
        topup=topup,
        lookup=SerialForm(),
        card_lookup=CardLookupForm(formdata=None),
        sold_today=sold_today,
        low_float=agent.balance < current_app.config["LOW_FLOAT_THRESHOLD"],
        stopped_by=tree.suspended_above(agent),
    ), status


@bp.route("/counter")
@counter_staff
def counter():
    """Show the counter: sell, redeem, top up, look up, and this staff member's sales today."""
    return _counter_page(current_agent())


@bp.route("/counter/sell", methods=["POST"])
@counter_staff
def sell():
    """Sell vouchers paid from the float, then show the sale to print."""
    agent = current_agent()
    form = SellForm()
    form.sku.choices = _pack_choices(agent)
    if not form.validate_on_submit():
        return _counter_page(agent, sell=form, status=400)
    try:
        sale = sales.sell_vouchers(agent.id, form.sku.data, form.quantity.data, current_actor())
    except ledger.InsufficientCredit:
        form.quantity.errors.append(
            _("The float cannot pay for this sale. Ask your manager to top it up.")
        )
    except ledger.AgentSuspended as exc:
        form.sku.errors.append(suspended_message(exc))
    except (catalog_services.ProductNotFound, sales.SaleError):
        form.sku.errors.append(_("This pack cannot be sold."))
    else:
        flash(_("Sold %(count)d vouchers.", count=len(sale.vouchers)), "success")
        return redirect(url_for("agents.counter_batch", batch_id=sale.batch.id, new=1))
    return _counter_page(agent, sell=form, status=409)


def _own_batch(batch_id: int):
    try:
        return batches.get_batch(batch_id, agent_id=current_agent().id)
    except batches.BatchNotFound:
        abort(404)


@bp.route("/counter/batches/<id:batch_id>")
@counter_staff
def counter_batch(batch_id):
    """Show a sale: its vouchers and the buttons that print them."""
    batch = _own_batch(batch_id)
    vouchers = (
        db.session.execute(
            db.select(Voucher).filter_by(batch_id=batch.id).order_by(Voucher.serial).limit(500)
        )
        .scalars()
        .all()
    )
    return render_template("agents/counter_batch.html", batch=batch, vouchers=vouchers)


@bp.route("/counter/batches/<id:batch_id>.pdf")
@counter_staff
def counter_batch_pdf(batch_id):
    """Print (or reprint) a sale's vouchers; every print is audited."""
    batch = _own_batch(batch_id)
    layout = "a4" if request.args.get("format") == "a4" else "receipt"
    if batch.quantity > 1000:
        abort(413)
    content = printing.print_batch(batch, layout, current_actor())
    return download_response(content, f"vouchers-{batch.id}-{layout}.pdf")


@bp.route("/counter/redeem", methods=["POST"])
@counter_staff
def counter_redeem():
    """Redeem a customer's PIN onto their card at the counter."""
    agent = current_agent()
    form = CounterRedeemForm()
    if not form.validate_on_submit():
        return _counter_page(agent, redeem=form, status=400)
    try:
        result = voucher_services.redeem_voucher(
            form.pin.data,
            form.card.data,
            channel="counter",
            actor=current_actor(),
            agent_id=agent.id,
        )
    except Throttled as exc:
        minutes = max(1, -(-exc.retry_after // 60))
        form.pin.errors.append(str(REDEMPTION_MESSAGES["rate_limited"]) % {"minutes": minutes})
        return _counter_page(agent, redeem=form, status=429)
    except (
        InvalidPin,
        InvalidCardNumber,
        CardNotFound,
        CardSuspended,
        voucher_services.RedemptionError,
    ) as exc:
        field, message, status = explain_refusal(exc)
        getattr(form, field).errors.append(message)
        return _counter_page(agent, redeem=form, status=status)
    else:
        flash(
            _(
                "Redeemed: card %(number)s now has %(mb)d MB, valid until %(until)s.",
                number=result.topup.card.number,
                mb=result.topup.card.data_balance_mb,
                until=result.topup.new_expires_at.date().isoformat(),
            ),
            "success",
        )
        return redirect(url_for("agents.counter"))


@bp.route("/counter/topup", methods=["POST"])
@counter_staff
def counter_topup():
    """Top a customer's card up directly, paid from the float."""
    agent = current_agent()
    form = CounterTopUpForm()
    form.sku.choices = _pack_choices(agent)
    if not form.validate_on_submit():
        return _counter_page(agent, topup=form, status=400)
    try:
        topup, product, _balance = sales.counter_top_up(
            agent.id, form.sku.data, form.card.data, current_actor(), channel="counter"
        )
    except (InvalidCardNumber, CardNotFound, CardSuspended) as exc:
        field, message, status = explain_refusal(exc)
        getattr(form, field).errors.append(message)
        return _counter_page(agent, topup=form, status=status)
    except ledger.InsufficientCredit:
        form.sku.errors.append(
            _("The float cannot pay for this top-up. Ask your manager to top it up.")
        )
    except ledger.AgentSuspended as exc:
        form.sku.errors.append(suspended_message(exc))
    except (catalog_services.ProductNotFound, sales.SaleError):
        form.sku.errors.append(_("This pack cannot be sold."))
    else:
        flash(
            _("%(pack)s added to card %(number)s.", pack=product.name, number=topup.card.number),
            "success",
        )
        return redirect(url_for("agents.counter"))
    return _counter_page(agent, topup=form, status=409)


@bp.route("/counter/vouchers")
@counter_staff
def counter_lookup():
    """Find one of this shop's vouchers by serial."""
    agent = current_agent()
    form = SerialForm(request.args)
    voucher = voucher_services.get_voucher_by_serial(form.serial.data or "", agent_id=agent.id)
    if voucher is None:
        flash(_("No voucher of this shop has this serial."), "error")
        return redirect(url_for("agents.counter"))
    return redirect(url_for("agents.counter_voucher", serial=voucher.serial))


@bp.route("/counter/cards")
@counter_staff
def counter_card():
    """Show a customer's card: balance, expiry and whether auto-renew looks after it (read only)."""
    form = CardLookupForm(request.args)
    card = None
    status = 200
    if form.validate():
        try:
            card = find_card(form.number.data)
        except InvalidCardNumber as exc:
            form.number.errors.append(card_number_problem(exc))
        except CardNotFound:
            form.number.errors.append(_("No card with this number is registered with us."))
    if card is None:
        status = 422 if request.args else 200
    return render_template(
        "agents/counter_card.html",
        form=form,
        card=card,
        expired=card is not None and is_card_expired(card),
        rule=live_rule_for_card(card.id) if card is not None else None,
    ), status


def _own_voucher(serial: str) -> Voucher:
    voucher = voucher_services.get_voucher_by_serial(serial, agent_id=current_agent().id)
    if voucher is None:
        abort(404)
    return voucher


@bp.route("/counter/vouchers/<serial>")
@counter_staff
def counter_voucher(serial):
    """Show one voucher of this shop, with reprint, void and activation."""
    voucher = _own_voucher(serial)
    window_open = (
        voucher.status == VoucherStatus.ACTIVE
        and voucher.sold_at is not None
        and voucher.sold_at >= utcnow() - sales.void_window()
    )
    return render_template(
        "agents/counter_voucher.html",
        voucher=voucher,
        window_open=window_open,
        send_form=SendPinForm(),
    )


@bp.route("/counter/vouchers/<serial>/reprint", methods=["POST"])
@counter_staff
def counter_reprint(serial):
    """Reprint one voucher as a receipt; audited."""
    voucher = _own_voucher(serial)
    if voucher.status not in (VoucherStatus.ACTIVE, VoucherStatus.INACTIVE):
        flash(_("Only unused vouchers can be reprinted."), "error")
        return redirect(url_for("agents.counter_voucher", serial=voucher.serial))
    printable = voucher_services.printable_batch(
        voucher.batch_id, agent_name=current_agent().name, serial=voucher.serial
    )
    record_event(
        "voucher.reprinted",
        current_actor(),
        object_type="voucher",
        object_id=voucher.serial,
        agent_id=voucher.agent_id,
    )
    db.session.commit()
    content = pdf.render_receipts(printable, pdf.print_context(current_app.config))
    return download_response(content, f"voucher-{voucher.serial}.pdf")


@bp.route("/counter/vouchers/<serial>/void", methods=["POST"])
@counter_staff
def counter_void(serial):
    """Void an unredeemed voucher within the void window; the cost returns to the float."""
    voucher = _own_voucher(serial)
    try:
        sales.void_sale(voucher.agent_id, voucher.serial, current_actor())
    except sales.VoidWindowPassed:
        flash(_("The void window for this voucher has passed."), "error")
    except ledger.InsufficientCredit:
        flash(
            _("The agent above this shop cannot give back its commission on this sale now."),
            "error",
        )
    except voucher_services.RedemptionError as exc:
        flash(REDEMPTION_MESSAGES[exc.code], "error")
    else:
        flash(
            _("Voucher %(serial)s is void; its cost is back on the float.", serial=voucher.serial),
            "success",
        )
    return redirect(url_for("agents.counter_voucher", serial=serial))


@bp.route("/counter/vouchers/<serial>/activate", methods=["POST"])
@counter_staff
def counter_activate(serial):
    """Sell a pre-printed voucher: it becomes redeemable and its cost is debited."""
    voucher = _own_voucher(serial)
    try:
        sales.activate_stock(voucher.agent_id, voucher.serial, current_actor())
    except ledger.InsufficientCredit:
        flash(_("The float cannot pay for this voucher. Ask your manager to top it up."), "error")
    except ledger.AgentSuspended as exc:
        flash(suspended_message(exc), "error")
    except (sales.NotStock, voucher_services.RedemptionError):
        flash(_("Only unsold pre-printed vouchers can be activated."), "error")
    else:
        flash(
            _("Voucher %(serial)s is sold and can be redeemed now.", serial=voucher.serial),
            "success",
        )
    return redirect(url_for("agents.counter_voucher", serial=serial))
