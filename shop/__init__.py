"""The data-pack voucher shop: application factory."""

import logging
from pathlib import Path

from flask import Flask, abort, request
from flask_babel import lazy_gettext
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from shop import config as shop_config
from shop import wal
from shop.db import SQLITE_IMMEDIATE, GatedSQLiteConnection, ping_when_idle
from shop.extensions import babel, csrf, db, limiter, login_manager, migrate
from shop.session_cookie import SessionCookieInterface
from shop.throttle import register_strategies as register_limit_strategies

MIGRATIONS_DIRECTORY = str(Path(__file__).parent / "migrations")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


class RowIdConverter(IntegerConverter):
    """``<id:...>`` URL parts: a row id that fits every backend's integer (else 404, not 500)."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=2**31 - 1)


FRAMING_HEADERS = ("X-Frame-Options", "Content-Security-Policy")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def create_app(config: dict | None = None, instance_path: str | None = None) -> Flask:
    """Build the app: defaults, then ``instance/``, then the environment, then ``config``."""
    app = Flask(
        __name__,
        template_folder="../templates",
        instance_path=instance_path,
        instance_relative_config=True,
    )
    app.url_map.converters["id"] = RowIdConverter
    app.session_interface = SessionCookieInterface()
    load_configuration(app, config or {})
    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_request_hooks(app)
    return app


def load_configuration(app: Flask, overrides: dict) -> None:
    """Apply the configuration layers in order."""
    app.config.from_object(shop_config.Defaults)
    app.config.update(shop_config.load_instance_secrets(app.instance_path))
    app.config.update(shop_config.load_instance_config(app.instance_path))
    environment = shop_config.settings_from_environment()
    app.config.update(environment)
    app.config.update(overrides)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = shop_config.sqlite_url(app.instance_path)
    explicit = {**environment, **overrides}
    if "SESSION_COOKIE_SECURE" not in explicit and app.debug:
        app.config["SESSION_COOKIE_SECURE"] = False
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        options.setdefault("connect_args", {}).setdefault("factory", GatedSQLiteConnection)
    if app.config["PROXY_FIX_X_FOR"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"], x_proto=1)


def configure_logging(app: Flask) -> None:
    """Log INFO and up to stderr unless logging is configured already."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


def _configure_sqlite(engine, checkpoint_seconds: float) -> None:
    """WAL, foreign keys, a busy timeout, write use cases that lock up front, checkpoints aside.

    Transactions are deferred (readers never block writers), except those a service opens with
    :func:`shop.db.begin_write`: they start with ``BEGIN IMMEDIATE``, taking SQLite's write
    lock before their first read, so a read-then-write use case (redeem a voucher, debit a
    float) never fails half-way because another writer got in between. With
    ``checkpoint_seconds`` > 0 the log is checkpointed by a background thread (``shop.wal``).
    """
    database_path = engine.url.database
    # A plain file path; ":memory:" and "file:..." URIs get SQLite's own inline checkpoints.
    on_disk = bool(database_path) and not database_path.startswith((":memory:", "file:"))
    background_checkpoints = on_disk and checkpoint_seconds > 0
    autocheckpoint = wal.inline_checkpoint_pages(background=background_checkpoints)

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
        cursor.close()
        if background_checkpoints:
            wal.ensure_checkpointer(database_path, checkpoint_seconds)

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        if connection.get_execution_options().get(SQLITE_IMMEDIATE):
            driver_connection = connection.connection.driver_connection
            if isinstance(driver_connection, GatedSQLiteConnection):
                driver_connection.begin_immediate(database_path)
            else:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def register_extensions(app: Flask) -> None:
    """Bind the extensions created in ``shop.extensions`` to this app."""
    from shop import models  # noqa: F401  (every model registered before migrations look)
    from shop.alerts import init_app as init_alerts
    from shop.auth.services import load_user_by_session_token
    from shop.i18n import register_template_helpers, select_locale
    from shop.jobs import init_app as init_jobs
    from shop.messaging import init_app as init_messaging
    from shop.network import init_app as init_network
    from shop.payments import init_app as init_payments

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _configure_sqlite(db.engine, app.config["SQLITE_CHECKPOINT_SECONDS"])
        else:
            ping_when_idle(db.engine, app.config["DATABASE_PING_IDLE_SECONDS"])
    migrate.init_app(app, db, directory=MIGRATIONS_DIRECTORY, render_as_batch=True)
    csrf.init_app(app)
    register_limit_strategies()
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Please log in to open this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user_by_session_token)
    register_template_helpers(app)
    init_payments(app)
    init_messaging(app)
    init_jobs(app)
    init_network(app)
    init_alerts(app)


def register_blueprints(app: Flask) -> None:
    """Mount every domain's views."""
    from shop import api, i18n
    from shop.admin.audit_routes import bp as audit_bp
    from shop.admin.delivery_routes import bp as admin_deliveries_bp
    from shop.admin.dev_outbox_routes import bp as dev_outbox_bp
    from shop.admin.routes import bp as admin_bp
    from shop.agents.admin_routes import bp as agent_admin_bp
    from shop.agents.float_request_routes import bp as float_requests_bp
    from shop.agents.manager_routes import bp as agent_manager_bp
    from shop.agents.pin_message_routes import bp as pin_messages_bp
    from shop.agents.routes import bp as agents_bp
    from shop.agents.stock_routes import bp as stock_bp
    from shop.agents.tree_routes import bp as agent_tree_bp
    from shop.alerts.routes import bp as alerts_bp
    from shop.auth.routes import bp as auth_bp
    from shop.autorenew.routes import admin_bp as autorenew_admin_bp
    from shop.autorenew.routes import bp as autorenew_bp
    from shop.cards.routes import bp as cards_bp
    from shop.catalog.routes import bp as catalog_bp
    from shop.jobs.routes import bp as jobs_bp
    from shop.network.routes import bp as network_bp
    from shop.reports.routes import bp as reports_bp
    from shop.storefront.account_routes import bp as customer_bp
    from shop.storefront.admin_routes import bp as storefront_admin_bp
    from shop.storefront.mobile_pay_routes import bp as mobile_pay_bp
    from shop.storefront.mobile_pay_routes import notify_bp as mobile_pay_notify_bp
    from shop.storefront.payment_code_admin_routes import bp as payment_code_admin_bp
    from shop.storefront.payment_code_routes import bp as payment_code_bp
    from shop.storefront.routes import bp as storefront_bp
    from shop.storefront.wallet_account_routes import bp as wallet_bp
    from shop.storefront.webhook_routes import bp as payment_webhooks_bp
    from shop.vouchers.routes import bp as vouchers_bp
    from shop.wallet.admin_routes import bp as wallet_admin_bp

    blueprints = (
        catalog_bp,
        cards_bp,
        vouchers_bp,
        stock_bp,
        agents_bp,
        pin_messages_bp,
        agent_manager_bp,
        agent_admin_bp,
        float_requests_bp,
        agent_tree_bp,
        auth_bp,
        admin_bp,
        admin_deliveries_bp,
        audit_bp,
        storefront_bp,
        customer_bp,
        alerts_bp,
        autorenew_bp,
        autorenew_admin_bp,
        storefront_admin_bp,
        payment_code_bp,
        payment_code_admin_bp,
        dev_outbox_bp,
        payment_webhooks_bp,
        mobile_pay_bp,
        mobile_pay_notify_bp,
        wallet_bp,
        wallet_admin_bp,
        reports_bp,
        jobs_bp,
        network_bp,
        i18n.bp,
        api.bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    csrf.exempt(api.bp)
    csrf.exempt(payment_webhooks_bp)  # signed by the provider, verified over the raw body
    csrf.exempt(mobile_pay_notify_bp)  # Alipay's and WeChat's notifications, verified the same way
    csrf.exempt(network_bp)  # signed by the network, verified over the raw body


def register_errorhandlers(app: Flask) -> None:
    """Install the HTML and JSON error handlers."""
    from shop.api.errors import ApiError, handle_api_error
    from shop.errors import register_errorhandlers as register

    app.register_error_handler(ApiError, handle_api_error)
    register(app)


def register_commands(app: Flask) -> None:
    """Add the ``shop``, ``vouchers``, ``orders`` and ``jobs`` command groups."""
    from shop.agents.commands import generate_command
    from shop.commands import shop_cli
    from shop.jobs.commands import jobs_cli
    from shop.storefront.commands import orders_cli
    from shop.vouchers.commands import vouchers_cli

    vouchers_cli.add_command(generate_command)
    app.cli.add_command(shop_cli)
    app.cli.add_command(vouchers_cli)
    app.cli.add_command(orders_cli)
    app.cli.add_command(jobs_cli)


def register_request_hooks(app: Flask) -> None:
    """Security headers on every response."""
    from shop.payments import all_approval_origins

    # "Pay with PayPal" is a form whose answer redirects to PayPal's approval page: the
    # CSP's form-action must allow that origin, or the browser stops the buyer there.
    form_action = " ".join(("'self'", *all_approval_origins(app.config)))
    security_headers = {
        **SECURITY_HEADERS,
        "Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"].replace(
            "form-action 'self'", f"form-action {form_action}"
        ),
    }

    @app.before_request
    def refuse_nul_characters():
        # No input of the shop may hold a NUL: PostgreSQL refuses it in text (a 500 otherwise).
        # Raw bytes are checked where possible, so requests pay for no parsing they do not need.
        query = request.query_string
        if "\x00" in request.path or b"%00" in query or b"\x00" in query:
            abort(400, description="The request contains a NUL character.")
        if request.method not in ("POST", "PUT", "PATCH"):
            return
        if request.mimetype in FORM_TYPES:
            if any("\x00" in value for value in request.form.values()):
                abort(400, description="The request contains a NUL character.")
        elif request.is_json and b"\\u0000" in request.get_data(cache=True):
            abort(400, description="The request contains a NUL character.")

    @app.after_request
    def add_security_headers(response):
        # Downloads set their own framing rules (see shop.web.download_response).
        framable = response.headers.get("X-Frame-Options") == "SAMEORIGIN"
        for name, value in security_headers.items():
            if not (framable and name in FRAMING_HEADERS):
                response.headers[name] = value
        if not app.debug and app.config["SESSION_COOKIE_SECURE"]:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response
