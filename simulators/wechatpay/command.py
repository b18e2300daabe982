"""``python -m simulators wechatpay``: serve the WeChat Pay simulator beside a shop."""

from simulators.keys import instance_signing_identity
from simulators.runner import CommonOptions, simulator_command
from simulators.wechatpay import (
    MERCHANT_NAME,
    PLATFORM_NAME,
    WEBHOOK_PATH,
    create_simulator_app,
)


@simulator_command(
    "wechatpay",
    webhook_path=WEBHOOK_PATH,
    help="Serve the WeChat Pay simulator (the shop's WECHATPAY_MODE=simulator talks to it).",
)
def wechatpay_command(common: CommonOptions):
    """Build the WeChat Pay simulator; its keys are made in the instance folder on first start."""
    return create_simulator_app(
        {
            "PUBLIC_URL": common.public_url,
            "WEBHOOK_URL": common.webhook_url,
            "PLATFORM_IDENTITY": instance_signing_identity(
                common.instance_path, "wechatpay", PLATFORM_NAME
            ),
            "MERCHANT_IDENTITY": instance_signing_identity(
                common.instance_path, "wechatpay-merchant", MERCHANT_NAME
            ),
        }
    )
