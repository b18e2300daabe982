"""``python -m simulators sms``: serve the SMS (Twilio) simulator beside a simulator-mode shop."""

import click

from shop.messaging.settings import SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, SIMULATOR_SENDER
from simulators.runner import CommonOptions, simulator_command
from simulators.sms import create_simulator_app


@simulator_command(
    "sms",
    webhook_path="",
    help="Serve the SMS simulator (the shop's SMS_MODE=simulator talks to it).",
)
@click.option("--account-sid", envvar="TWILIO_ACCOUNT_SID", default=SIMULATOR_ACCOUNT_SID)
@click.option("--auth-token", envvar="TWILIO_AUTH_TOKEN", default=SIMULATOR_AUTH_TOKEN)
@click.option("--sender", envvar="SMS_SENDER", default=SIMULATOR_SENDER)
def sms_command(common: CommonOptions, account_sid, auth_token, sender):
    """Build the SMS simulator for the command line's options."""
    return create_simulator_app(
        {
            "PUBLIC_URL": common.public_url,
            "ACCOUNT_SID": account_sid,
            "AUTH_TOKEN": auth_token,
            "SENDER": sender,
        }
    )
