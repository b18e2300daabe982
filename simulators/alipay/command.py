"""``python -m simulators alipay``: serve the Alipay simulator beside a shop in simulator mode."""

from simulators.alipay import APP_ID, APP_NAME, PLATFORM_NAME, WEBHOOK_PATH, create_simulator_app
from simulators.keys import instance_signing_identity
from simulators.runner import CommonOptions, simulator_command


@simulator_command(
    "alipay",
    webhook_path=WEBHOOK_PATH,
    help="Serve the Alipay simulator (the shop's ALIPAY_MODE=simulator talks to it).",
)
def alipay_command(common: CommonOptions):
    """Build the Alipay simulator; its keys are made in the instance folder on first start."""
    return create_simulator_app(
        {
            "PUBLIC_URL": common.public_url,
            "WEBHOOK_URL": common.webhook_url,
            "APP_ID": APP_ID,
            "PLATFORM_IDENTITY": instance_signing_identity(
                common.instance_path, "alipay", PLATFORM_NAME
            ),
            "APP_IDENTITY": instance_signing_identity(common.instance_path, "alipay-app", APP_NAME),
        }
    )
