"""Driving Alipay and WeChat Pay checkouts like a buyer, against the real SDKs and simulators."""

from urllib.parse import parse_qs, urlsplit

import requests

from tests.storefront_helpers import BUYER, path_of, with_action

#: A phone's browser (gets wap pay / H5) and a computer's (page pay / the QR code).
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def place_mobile_pay_order(client, method: str, *, email=BUYER, delivery="vouchers", card=""):
    """Check out the cart paying with ``method``; return the order page path."""
    response = client.post(
        "/checkout",
        data={
            "email": email,
            "delivery": delivery,
            "card_number": card,
            "promotion_code": "",
            "payment_method": method,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return path_of(response.headers["Location"])


def press_pay(client, order_path: str, user_agent: str = DESKTOP, channel: str = ""):
    """Press the pay button; return the response (a 303 to the provider or our QR page)."""
    return client.post(
        with_action(order_path, "pay/mobile"),
        data={"channel": channel} if channel else {},
        headers={"User-Agent": user_agent},
    )


def trade_of(location: str) -> str:
    """Return the merchant trade number in an Alipay cashier URL."""
    import json

    query = parse_qs(urlsplit(location).query)
    return json.loads(query["biz_content"][0])["out_trade_no"]


def alipay_decides(simulator, location: str, choice: str = "pay") -> str:
    """Open Alipay's cashier, press a button as the buyer; return where Alipay sends them."""
    page = requests.get(location, timeout=5)
    assert page.status_code == 200, page.text
    answer = requests.post(
        f"{simulator.url}/simulator/cashier/{trade_of(location)}",
        data={"choice": choice},
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def alipay_notification(simulator, trade: str, **overrides) -> bytes:
    """Return a notification body the simulator signed, without it being sent."""
    answer = requests.get(
        f"{simulator.url}/simulator/trades/{trade}/notification", params=overrides, timeout=5
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["body"].encode()


def post_alipay_notification(client, body: bytes):
    return client.post(
        "/payments/alipay/notify",
        data=body,
        content_type="application/x-www-form-urlencoded; charset=utf-8",
    )


def wechat_pays(simulator, out_trade_no: str, choice: str = "pay") -> None:
    """Scan the Native code (or open the H5 cashier) and pay, as the buyer's phone would."""
    answer = requests.post(
        f"{simulator.url}/simulator/orders/{out_trade_no}/decide",
        json={"choice": choice},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text


def wechat_notification(simulator, out_trade_no: str, **overrides) -> tuple[dict, bytes]:
    """Return a notification the simulator signed and encrypted, without it being sent."""
    answer = requests.get(
        f"{simulator.url}/simulator/orders/{out_trade_no}/notification",
        params=overrides,
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    data = answer.json()
    return data["headers"], data["body"].encode()


def post_wechat_notification(client, headers: dict, body: bytes):
    return client.post(
        "/payments/wechatpay/notify", data=body, headers=headers, content_type="application/json"
    )
