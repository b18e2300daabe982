"""Paying with Alipay or WeChat Pay: the pay button, returns, the QR page, notifications.

``bp`` holds the buyer's pages (CSRF-protected forms); ``notify_bp`` the providers'
notifications, which carry no CSRF token but are verified over their raw bytes before
anything happens.
"""

import logging
from urllib.parse import urlencode

import segno
from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from shop.payments.gateway import (
    GatewayUnavailable,
    PaymentError,
    UnsupportedWebhookEvent,
    WebhookRejected,
)
from shop.payments.mobile_pay import MobilePayChannel
from shop.storefront import fulfilment, mobile_pay_flow, payment_flow
from shop.storefront.messages import PAYMENT_METHOD_NAMES, STATUS_NAMES
from shop.storefront.models import OrderStatus, PaymentMethod
from shop.storefront.routes import NO_STORE, code_page_first, order_url, visible_order

log = logging.getLogger(__name__)

bp = Blueprint("mobile_pay", __name__)
notify_bp = Blueprint("mobile_pay_notify", __name__)

#: What WeChat Pay expects when a notification was not accepted (it retries later).
WECHAT_FAIL = {"code": "FAIL", "message": "rejected"}


@bp.app_context_processor
def inject_payment_method_names():
    """Give every page the payment methods' names (order page, order tables)."""
    return {"method_names": PAYMENT_METHOD_NAMES}


def _urls(order) -> mobile_pay_flow.MobilePayUrls:
    return mobile_pay_flow.MobilePayUrls(
        return_url=order_url(
            order, f"mobile_pay.{order.payment_method.value}_return", _external=True
        ),
        cancel_url=order_url(order, "mobile_pay.mobile_pay_cancel", _external=True),
        notify_url=url_for(
            f"mobile_pay_notify.{order.payment_method.value}_notify", _external=True
        ),
    )


@bp.route("/orders/<reference>/pay/mobile", methods=["POST"])
def pay_mobile(reference):
    """Send the buyer to Alipay, or to WeChat Pay (its cashier, or our QR code page)."""
    order = visible_order(reference)
    code_page = code_page_first(order)
    if code_page is not None:
        return code_page
    method_name = PAYMENT_METHOD_NAMES.get(order.payment_method.value, "")
    try:
        channel = mobile_pay_flow.choose_channel(
            order.payment_method, request.user_agent.string, request.form.get("channel", "")
        )
        payment = mobile_pay_flow.start_payment(
            order, channel, _urls(order), request.remote_addr or ""
        )
    except mobile_pay_flow.NotAWalletOrder:
        abort(400)
    except payment_flow.OrderNotPayable:
        flash(_("This order is not waiting for a payment."), "info")
    except GatewayUnavailable:
        flash(
            _(
                "%(method)s did not answer. Nothing was charged; please try again in a minute.",
                method=method_name,
            ),
            "error",
        )
    except PaymentError as exc:
        log.error("creating the payment of %s failed: %s", order.reference, exc)
        flash(
            _("%(method)s refused to start this payment. Nothing was charged.", method=method_name),
            "error",
        )
    else:
        if payment.channel == MobilePayChannel.WECHAT_NATIVE:
            return redirect(order_url(order, "mobile_pay.wechatpay_qr"), 303)
        if payment.channel == MobilePayChannel.WECHAT_H5:
            back = urlencode({"redirect_url": _urls(order).return_url})
            return redirect(f"{payment.redirect_url}&{back}", 303)
        return redirect(payment.redirect_url, 303)
    return redirect(order_url(order), 303)


@bp.route("/orders/<reference>/wechatpay")
def wechatpay_qr(reference):
    """Show the WeChat Pay QR code of a pending order; the page moves on once it is paid."""
    order = visible_order(reference)
    if order.status != OrderStatus.PENDING:
        return redirect(order_url(order), 303)
    code_url = next(
        (
            payment.approval_url
            for payment in reversed(order.payments)
            if payment.provider == PaymentMethod.WECHATPAY.value
            and payment.provider_payment_id.endswith("-N")
            and payment.approval_url
        ),
        "",
    )
    if not code_url:
        return redirect(order_url(order), 303)
    qr = segno.make(code_url, error="m")
    return (
        render_template(
            "storefront/wechatpay_qr.html",
            order=order,
            key=request.values.get("key", ""),
            qr_svg=qr.svg_data_uri(scale=6, border=2),
        ),
        200,
        NO_STORE,
    )


@bp.route("/orders/<reference>/payment-status")
def payment_status(reference):
    """Tell the QR page where the order stands (asking the provider while it is pending)."""
    order = visible_order(reference)
    status = mobile_pay_flow.refresh_order(order)
    response = jsonify(
        status=status.value,
        status_name=str(STATUS_NAMES.get(status.value, status.value)),
        done=status != OrderStatus.PENDING,
        url=order_url(order),
    )
    response.headers.update(NO_STORE)
    return response


@bp.route("/orders/<reference>/alipay/return")
def alipay_return(reference):
    """Alipay sends the buyer back here: verify what it signed, query the trade, settle once."""
    order = visible_order(reference)
    params = {key: value for key, value in request.args.items() if key != "key"}
    try:
        mobile_pay_flow.complete_alipay_return(order, params)
    except WebhookRejected as exc:
        log.warning("Alipay return for %s refused: %s", order.reference, exc)
        flash(_("We could not confirm this payment with Alipay."), "error")
    except fulfilment.UnknownPayment:
        flash(_("This payment does not belong to this order."), "error")
    except fulfilment.AmountMismatch:
        flash(
            _("The amount Alipay reports does not match this order. We are looking into it."),
            "error",
        )
    except PaymentError:
        flash(
            _(
                "Alipay did not answer in time. If you paid, your order completes as soon as "
                "Alipay confirms it: reload this page in a minute."
            ),
            "error",
        )
    return redirect(order_url(order), 303)


@bp.route("/orders/<reference>/wechatpay/return")
def wechatpay_return(reference):
    """WeChat's phone cashier sends the buyer back here: ask WeChat and settle."""
    order = visible_order(reference)
    mobile_pay_flow.refresh_order(order)
    return redirect(order_url(order), 303)


@bp.route("/orders/<reference>/mobile-pay/cancel")
def mobile_pay_cancel(reference):
    """Close the trades and cancel the order of a buyer who gave up at Alipay or WeChat."""
    order = visible_order(reference)
    mobile_pay_flow.close_trades(order)
    order = visible_order(reference)
    if order.status == OrderStatus.PENDING and payment_flow.cancel_return(order):
        flash(_("You cancelled the payment. Nothing was charged."), "info")
    return redirect(order_url(order), 303)


@notify_bp.route("/payments/alipay/notify", methods=["POST"])
def alipay_notify():
    """Receive Alipay's notification; answer ``success`` only once it is verified and applied."""
    # A form body is parsed before any view (the shop's NUL check); its parameters, repeats
    # kept, are exactly what Alipay signed.
    raw_body = urlencode(list(request.form.items(multi=True))).encode()
    try:
        outcome = mobile_pay_flow.receive_notification("alipay", request.headers, raw_body)
    except UnsupportedWebhookEvent as exc:  # genuine, nothing the shop acts on
        log.info("Alipay notification %s (%s) ignored", exc.event_id, exc.event_type)
        return _text("success", 200)
    except WebhookRejected as exc:
        log.warning("Alipay notification refused from %s: %s", request.remote_addr, exc)
        return _text("fail", 400)
    except fulfilment.AmountMismatch:
        return _text("fail", 422)
    except PaymentError as exc:
        log.warning("Alipay notification not applied: %s", exc)
        return _text("fail", 503)
    log.info("Alipay notification: %s", outcome)
    return _text("success", 200)


@notify_bp.route("/payments/wechatpay/notify", methods=["POST"])
def wechatpay_notify():
    """Receive WeChat Pay's notification: 204 once verified and applied, else a FAIL body."""
    raw_body = request.get_data(cache=False)
    try:
        outcome = mobile_pay_flow.receive_notification("wechatpay", request.headers, raw_body)
    except UnsupportedWebhookEvent as exc:  # genuine, nothing the shop acts on
        log.info("WeChat Pay notification %s (%s) ignored", exc.event_id, exc.event_type)
        return "", 204
    except WebhookRejected as exc:
        log.warning("WeChat Pay notification refused from %s: %s", request.remote_addr, exc)
        return jsonify(WECHAT_FAIL), 400
    except fulfilment.AmountMismatch:
        return jsonify(WECHAT_FAIL), 422
    except PaymentError as exc:
        log.warning("WeChat Pay notification not applied: %s", exc)
        return jsonify(WECHAT_FAIL), 503
    log.info("WeChat Pay notification: %s", outcome)
    return "", 204


def _text(body: str, status: int):
    response = make_response(body, status)
    response.mimetype = "text/plain"
    return response
