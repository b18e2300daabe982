"""Counter: send a sold voucher's PIN to the customer's phone by text message."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from shop.agents import pin_messages
from shop.agents.access import counter_staff, current_agent
from shop.agents.forms import SendPinForm
from shop.messaging.phones import InvalidPhone
from shop.vouchers import services as voucher_services
from shop.web import current_actor

bp = Blueprint("pin_messages", __name__)

REFUSALS = {
    "not_active": lambda: _("Only a sold, unused voucher's PIN can be sent."),
    "too_often": lambda: _(
        "This PIN was sent %(count)d times already; print it instead.",
        count=pin_messages.MAX_SENDS_PER_VOUCHER,
    ),
}


@bp.route("/counter/vouchers/<serial>/send-pin", methods=["POST"])
@counter_staff
def send_pin(serial):
    """Queue the PIN for the customer's phone (audited with the number, never the PIN)."""
    agent = current_agent()
    voucher = voucher_services.get_voucher_by_serial(serial, agent_id=agent.id)
    if voucher is None:
        abort(404)
    form = SendPinForm()
    if form.validate_on_submit():
        try:
            number = pin_messages.send_pin_by_sms(
                agent.id, serial, form.phone.data, current_actor()
            )
        except InvalidPhone:
            form.phone.errors.append(
                _("Type a mobile number with its country code, such as +66 81 234 5678.")
            )
        except pin_messages.PinNotSendable as exc:
            if exc.reason == "not_found":
                abort(404)
            flash(REFUSALS[exc.reason](), "error")
            return redirect(url_for("agents.counter_voucher", serial=serial), 303)
        else:
            flash(_("The PIN is on its way to %(phone)s.", phone=number), "success")
            return redirect(url_for("agents.counter_voucher", serial=serial), 303)
    return render_template(
        "agents/counter_voucher.html", voucher=voucher, window_open=False, send_form=form
    ), 422
