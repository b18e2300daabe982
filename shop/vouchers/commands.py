"""``flask --app wsgi vouchers ...``: the voucher command group.

Its ``generate`` command names the agent owning the stock, an agents use case, so it lives in
``shop.agents.commands`` and the app factory adds it to this group.
"""

from flask.cli import AppGroup

vouchers_cli = AppGroup("vouchers", help="Generate and manage PIN vouchers.")
