"""Layered configuration: defaults, then ``instance/``, then environment variables, then overrides.

The embedded default needs nothing set: SQLite in ``instance/shop.db`` and secrets generated once
into ``instance/secrets.json``. Every setting that ``shared/API.md`` names can come from the
environment, which is how several app servers share one PostgreSQL and one Redis.
"""

import base64
import json
import os
import secrets
from pathlib import Path

#: Settings read from the environment, with the type they are parsed to.
ENV_SETTINGS = {
    "SECRET_KEY": str,
    "RATELIMIT_STORAGE_URI": str,
    "RATELIMIT_ENABLED": bool,
    "PAYPAL_MODE": str,
    "PAYPAL_CLIENT_ID": str,
    "PAYPAL_CLIENT_SECRET": str,
    "PAYPAL_WEBHOOK_ID": str,
    "PAYPAL_SIMULATOR_URL": str,
    "PAYPAL_TIMEOUT_SECONDS": float,
    "PAYPAL_CERT_HOSTS": str,
    "ALIPAY_MODE": str,
    "ALIPAY_APP_ID": str,
    "ALIPAY_APP_PRIVATE_KEY": str,
    "ALIPAY_PUBLIC_KEY": str,
    "ALIPAY_SIMULATOR_URL": str,
    "ALIPAY_TIMEOUT_SECONDS": float,
    "WECHATPAY_MODE": str,
    "WECHATPAY_MCHID": str,
    "WECHATPAY_APPID": str,
    "WECHATPAY_PRIVATE_KEY": str,
    "WECHATPAY_CERT_SERIAL_NO": str,
    "WECHATPAY_APIV3_KEY": str,
    "WECHATPAY_SIMULATOR_URL": str,
    "WECHATPAY_TIMEOUT_SECONDS": float,
    "MAIL_SERVER": str,
    "MAIL_PORT": int,
    "MAIL_USERNAME": str,
    "MAIL_PASSWORD": str,
    "MAIL_USE_TLS": bool,
    "MAIL_SENDER": str,
    "SMS_MODE": str,
    "SMS_SIMULATOR_URL": str,
    "SMS_TIMEOUT_SECONDS": float,
    "SMS_SENDER": str,
    "TWILIO_ACCOUNT_SID": str,
    "TWILIO_AUTH_TOKEN": str,
    "SESSION_COOKIE_SECURE": bool,
    "PROXY_FIX_X_FOR": int,
    "SHOP_NAME": str,
    "SHOP_BASE_URL": str,
    "PIN_HMAC_KEY": str,
    "PIN_ENCRYPTION_KEYS": str,
    "AGENT_TREE_MAX_DEPTH": int,
    "ORDER_MIN_TOTAL": int,
    "ORDER_MAX_TOTAL": int,
    "ORDER_MAX_QUANTITY": int,
    "WALLET_TOPUP_MIN": int,
    "WALLET_TOPUP_MAX": int,
    "PAYMENT_CODE_ENABLED": bool,
    "DEV_OUTBOX": bool,
    "REPORT_TIMEZONE": str,
    "SQLITE_CHECKPOINT_SECONDS": float,
    "JOBS_URL": str,
    "JOBS_HEARTBEAT_SECONDS": float,
    "JOBS_STALE_SECONDS": float,
    "JOBS_POLL_SECONDS": float,
    "PRINT_FILES_DIR": str,
    "DATABASE_PING_IDLE_SECONDS": float,
    "NETWORK_MODE": str,
    "NETWORK_API_URL": str,
    "NETWORK_API_KEY": str,
    "NETWORK_WEBHOOK_SECRET": str,
    "NETWORK_TIMEOUT_SECONDS": float,
    "NETWORK_DELIVERY_LEASE_SECONDS": float,
    "AUTORENEW_PAUSE_FILE": str,
}

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class Defaults:
    """Settings that hold unless the instance folder, environment or caller say otherwise."""

    SHOP_NAME = "Wanderdata"
    SHOP_BASE_URL = "http://127.0.0.1:5000"
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = True
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 12
    WTF_CSRF_TIME_LIMIT = 60 * 60 * 12
    LANGUAGES = ("en", "zh_Hans_CN")
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    #: limits' fixed window, with the X-RateLimit-* headers read by the hit's own round trip.
    RATELIMIT_STRATEGY = "fixed-window-one-trip"
    #: Never let a broken limit store quietly switch limiting off.
    RATELIMIT_SWALLOW_ERRORS = False
    #: Failed logins allowed per account and per client address.
    LOGIN_FAILURES_PER_ACCOUNT = "5 per 15 minutes"
    LOGIN_FAILURES_PER_CLIENT = "20 per 15 minutes"
    #: Failed PIN redemptions allowed per client address, per card, and shop-wide.
    PIN_FAILURES_PER_CLIENT = "10 per 10 minutes"
    PIN_FAILURES_PER_CARD = "10 per 10 minutes"
    PIN_FAILURES_GLOBAL = "600 per minute"
    #: Requests per client address to the redeem page and endpoint, whatever their outcome.
    REDEEM_REQUESTS_PER_CLIENT = "120 per minute"
    #: Below this float (minor units) the counter shows a low-float banner.
    LOW_FLOAT_THRESHOLD = 10_000
    #: How long after a sale an agent may void an unredeemed voucher for a refund.
    VOID_WINDOW_HOURS = 24
    #: Most levels of agents below the operator: distributors, their sub-agents, and so on.
    AGENT_TREE_MAX_DEPTH = 3
    #: Storefront order limits: the total to pay (minor units) and the packs in one order.
    ORDER_MIN_TOTAL = 100
    ORDER_MAX_TOTAL = 50_000
    ORDER_MAX_QUANTITY = 20
    #: A wallet top-up's smallest and largest amount, in minor units of its currency.
    WALLET_TOPUP_MIN = 500
    WALLET_TOPUP_MAX = 50_000
    #: An order still unpaid after this many minutes is cancelled by ``orders reconcile``.
    ORDER_PAYMENT_TIMEOUT_MINUTES = 180
    #: One-time code at payment: the policy until the admin saves one (/admin/payment-codes).
    PAYMENT_CODE_ENABLED = True
    PAYMENT_CODE_AMOUNT_THRESHOLD = 10_000
    PAYMENT_CODE_CURRENCY = "USD"
    PAYMENT_CODE_FIRST_ORDER = True
    PAYMENT_CODE_NEW_DEVICE = True
    PAYMENT_CODE_ORDERS_PER_ADDRESS_PER_HOUR = 3
    #: A code's life, the wait before another may be sent, and the tries and sends per order.
    PAYMENT_CODE_TTL_SECONDS = 300
    PAYMENT_CODE_RESEND_SECONDS = 60
    PAYMENT_CODE_MAX_ATTEMPTS = 5
    PAYMENT_CODE_MAX_SENDS = 5
    #: Wrong codes allowed per client address, across orders.
    PAYMENT_CODE_FAILURES_PER_CLIENT = "20 per hour"
    #: Development only: ``/dev/outbox`` shows every kept message, codes and PINs included.
    DEV_OUTBOX = False
    #: The operator's time zone (IANA name): report days run from midnight to midnight there.
    REPORT_TIMEZONE = "UTC"
    #: SQLite only: seconds between background WAL checkpoints (0: commits checkpoint inline).
    SQLITE_CHECKPOINT_SECONDS = 0.1
    #: PostgreSQL only: a pooled connection idle longer than this is pinged before use (one
    #: round trip); a busy one is not, so redemptions pay for no ``SELECT 1`` (0: ping always).
    DATABASE_PING_IDLE_SECONDS = 10.0
    PASSWORD_RESET_MAX_AGE = 60 * 60
    #: Largest request body (proof uploads are at most 5 MB).
    MAX_CONTENT_LENGTH = 6 * 1024 * 1024
    PASSWORD_MIN_LENGTH = 10
    #: werkzeug's password hash method: scrypt at its default cost (N=2**15, r=8, p=1). The
    #: test suite alone sets a cheaper N, for speed; every login there still runs scrypt.
    PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 - a method name, not a password
    #: Number of trusted proxies in front of the app setting X-Forwarded-For (0: none).
    PROXY_FIX_X_FOR = 0
    #: ``simulator`` (the local PayPal stand-in), ``sandbox`` or ``live``.
    PAYPAL_MODE = "simulator"
    #: Empty in simulator mode means the simulator's fixed demo credentials.
    PAYPAL_CLIENT_ID = ""
    PAYPAL_CLIENT_SECRET = ""
    #: The id PayPal gave the shop's webhook subscription; it is part of every signature.
    PAYPAL_WEBHOOK_ID = ""
    PAYPAL_SIMULATOR_URL = "http://127.0.0.1:5001"
    #: Seconds to wait for PayPal to connect or answer before giving up (a worker never hangs).
    PAYPAL_TIMEOUT_SECONDS = 10.0
    #: Hosts webhook certificates may come from (comma separated); empty: PayPal's for the mode.
    PAYPAL_CERT_HOSTS = ""
    #: ``simulator`` (python -m simulators alipay), ``sandbox`` or ``live``. In simulator mode
    #: empty credentials mean the simulator's demo app (fetched from it on first use).
    ALIPAY_MODE = "simulator"
    ALIPAY_APP_ID = ""
    #: The app's RSA2 private key and Alipay's public key, PEM or bare base64.
    ALIPAY_APP_PRIVATE_KEY = ""
    ALIPAY_PUBLIC_KEY = ""
    ALIPAY_SIMULATOR_URL = "http://127.0.0.1:5002"
    ALIPAY_TIMEOUT_SECONDS = 10.0
    #: ``simulator`` (python -m simulators wechatpay), ``sandbox`` or ``live`` (API v3).
    WECHATPAY_MODE = "simulator"
    WECHATPAY_MCHID = ""
    WECHATPAY_APPID = ""
    #: The merchant's API certificate key (PEM) and that certificate's serial number.
    WECHATPAY_PRIVATE_KEY = ""
    WECHATPAY_CERT_SERIAL_NO = ""
    #: The 32-character APIv3 key (decrypts notifications and platform certificates).
    WECHATPAY_APIV3_KEY = ""
    WECHATPAY_SIMULATOR_URL = "http://127.0.0.1:5003"
    WECHATPAY_TIMEOUT_SECONDS = 10.0
    MAIL_SERVER = ""
    MAIL_PORT = 25
    MAIL_USERNAME = ""
    MAIL_PASSWORD = ""
    MAIL_USE_TLS = False
    MAIL_SENDER = "Wanderdata <no-reply@wanderdata.example>"
    #: Text messages: ``simulator`` (the local SMS stand-in), ``sandbox`` (Twilio's test
    #: credentials) or ``live``; the Twilio account, its token and the sending number.
    SMS_MODE = "simulator"
    SMS_SIMULATOR_URL = "http://127.0.0.1:5005"
    SMS_TIMEOUT_SECONDS = 10.0
    SMS_SENDER = ""
    TWILIO_ACCOUNT_SID = ""
    TWILIO_AUTH_TOKEN = ""
    #: The job queue: empty for a SQLite file in ``instance/``; ``redis://...`` or the
    #: ``postgresql://...`` URL for consumers on several machines.
    JOBS_URL = ""
    #: Run each task at once in the process that queues it (tests), instead of on a consumer.
    JOBS_IMMEDIATE = False
    #: How often a running print job proves its worker is alive.
    JOBS_HEARTBEAT_SECONDS = 15.0
    #: A running job whose heartbeat is older than this has lost its worker: the reaper
    #: hands it to another one.
    JOBS_STALE_SECONDS = 120.0
    #: Longest pause of an idle consumer between looks at a SQLite queue (Redis and PostgreSQL
    #: queues wake it at once).
    JOBS_POLL_SECONDS = 1.0
    #: Where finished print files are kept (sealed); empty for ``instance/prints``. With web
    #: servers on several machines, a directory they all mount.
    PRINT_FILES_DIR = ""
    #: The operator's network: ``simulator`` (the local stand-in), ``sandbox`` or ``live``.
    NETWORK_MODE = "simulator"
    #: The network's API; empty in simulator mode means the simulator on port 5004.
    NETWORK_API_URL = ""
    #: Key the shop signs its requests with; empty in simulator mode means the simulator's.
    NETWORK_API_KEY = ""
    #: Secret the network signs its callbacks with; empty in simulator mode: the simulator's.
    NETWORK_WEBHOOK_SECRET = ""
    #: Seconds to wait for the network to connect or answer (a delivery never hangs).
    NETWORK_TIMEOUT_SECONDS = 10.0
    #: A person looking at a card asks the network at most this often; the ask is shorter.
    NETWORK_REFRESH_SECONDS = 60.0
    NETWORK_REFRESH_TIMEOUT_SECONDS = 2.0
    #: Callbacks older (or newer) than this are refused as replays.
    NETWORK_EVENT_MAX_AGE_SECONDS = 300
    #: A delivery the network could not take is retried with backoff this long, then failed.
    NETWORK_DELIVERY_GIVE_UP_HOURS = 24
    #: A worker's hold on a delivery (at least the timeout + 5 s); a killed worker's delivery
    #: is tried again after it.
    NETWORK_DELIVERY_LEASE_SECONDS = 60.0
    #: Tests only: a renewal waits after its wallet debit while this file exists (a worker is
    #: killed there). Empty: no pause.
    AUTORENEW_PAUSE_FILE = ""
    #: The periodic sync asks the network about this many cards with data still valid.
    NETWORK_SYNC_BATCH = 200


def parse_env_value(name: str, raw: str, kind: type):
    """Parse one environment variable, refusing values that do not fit its type."""
    if kind is bool:
        word = raw.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"{name} must be one of 1/0/true/false, got {raw!r}")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {raw!r}") from None
    return raw


def settings_from_environment(environ=None) -> dict:
    """Return the settings given as environment variables."""
    environ = os.environ if environ is None else environ
    found = {}
    for name, kind in ENV_SETTINGS.items():
        if name in environ:
            found[name] = parse_env_value(name, environ[name], kind)
    if environ.get("DATABASE_URL"):
        found["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(environ["DATABASE_URL"])
    return found


def normalise_database_url(url: str) -> str:
    """Point plain ``postgresql://`` URLs at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_url(instance_path: str) -> str:
    """Return the URL of the embedded SQLite database in the instance folder."""
    return "sqlite:///" + str(Path(instance_path) / "shop.db")


def load_instance_secrets(instance_path: str) -> dict:
    """Return the secrets kept in ``instance/secrets.json``, generating them on first use.

    The file is written complete under a temporary name and then hard-linked into place, which
    fails if it exists: several workers starting at once agree on one set, and none ever reads
    a half-written file.
    """
    path = Path(instance_path) / "secrets.json"
    if not path.exists():
        generated = {
            "SECRET_KEY": secrets.token_hex(32),
            "PIN_HMAC_KEY": secrets.token_hex(32),
            "PIN_ENCRYPTION_KEYS": "k1:"
            + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".secrets-{secrets.token_hex(8)}.json")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(generated, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another worker won the race; use its secrets
        else:
            return generated
        finally:
            draft.unlink()
    return json.loads(path.read_text())


def load_instance_config(instance_path: str) -> dict:
    """Return optional settings from ``instance/config.json``."""
    path = Path(instance_path) / "config.json"
    if path.exists():
        return json.loads(path.read_text())
    return {}
