"""What every outside provider's settings share: its mode, its timeout, its simulator's address.

Each provider (PayPal, Alipay, WeChat Pay, Twilio) runs in one of three modes: ``simulator`` (the
local stand-in of ``python -m simulators``), ``sandbox`` and ``live``. These helpers read and
check the common settings and raise the provider's own configuration error with a clear reason,
so a shop with settings that cannot work refuses to start.
"""

import math
from collections.abc import Mapping
from urllib.parse import urlsplit

MODES = ("simulator", "sandbox", "live")


def provider_mode(config: Mapping, name: str, error: type[Exception]) -> str:
    """Return the ``name`` setting as a mode (``simulator`` when unset), or raise ``error``."""
    mode = str(config.get(name) or "simulator").strip().lower()
    if mode not in MODES:
        raise error(f"{name} must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def timeout_seconds(config: Mapping, name: str, error: type[Exception]) -> float:
    """Return the ``name`` setting as seconds above zero (default 10), or raise ``error``."""
    try:
        timeout = float(config.get(name, 10.0))
    except (TypeError, ValueError):
        timeout = math.nan
    if not math.isfinite(timeout) or timeout <= 0:
        raise error(f"{name} must be a number of seconds above zero")
    return timeout


def simulator_url(config: Mapping, name: str, example: str, error: type[Exception]) -> str:
    """Return the ``name`` setting as an http(s) URL without its last slash, or raise ``error``."""
    url = str(config.get(name) or "").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise error(f"{name} must be an http(s) URL such as {example}, got {url!r}")
    return url


def require_settings(
    mode_name: str, mode: str, values: Mapping[str, str], error: type[Exception], where: str
) -> None:
    """Raise ``error`` naming every empty setting that ``mode`` needs (``where``: get them)."""
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise error(
            f"{mode_name}={mode} needs {', '.join(missing)} ({where}); use "
            f"{mode_name}=simulator to run without the real service"
        )
