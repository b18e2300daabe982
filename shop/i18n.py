"""Languages: choosing the locale per request, switching it, formatting money and dates."""

from flask import Blueprint, current_app, redirect, request, session
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user

from shop.money import format_money
from shop.web import safe_next

bp = Blueprint("i18n", __name__)

#: The languages offered in the switcher, with their own names.
LANGUAGE_NAMES = {"en": "English", "zh_Hans_CN": "简体中文"}
#: Accept-Language values that map to our Chinese.
CHINESE_ALIASES = ("zh", "zh_CN", "zh_Hans", "zh_Hans_CN", "zh_SG")


def select_locale() -> str:
    """Pick the locale: the user's explicit choice, then the browser's preference, then English."""
    chosen = session.get("lang")
    if chosen in LANGUAGE_NAMES:
        return chosen
    if (
        current_user
        and current_user.is_authenticated
        and current_user.preferred_locale in LANGUAGE_NAMES
    ):
        return current_user.preferred_locale
    best = request.accept_languages.best_match(
        ["en", "zh", "zh-CN", "zh-Hans", "zh-SG", "zh-TW", "zh-HK"]
    )
    if best and best.lower().startswith("zh") and best.lower() not in ("zh-tw", "zh-hk"):
        return "zh_Hans_CN"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


@bp.route("/lang/<code>", methods=["GET", "POST"])
def switch(code):
    """Remember the chosen language for this browser and go back where the user was."""
    if code in LANGUAGE_NAMES:
        session["lang"] = code
    return redirect(safe_next(request.values.get("next")))


def money_filter(amount: int, currency: str = "USD") -> str:
    """Jinja filter: format minor units for the current locale."""
    return format_money(amount, currency, str(get_locale() or "en"))


def data_filter(megabytes: int) -> str:
    """Jinja filter: show a data amount as GB when large, MB otherwise."""
    if megabytes >= 1024:
        whole, rest = divmod(megabytes, 1024)
        tenths = rest * 10 // 1024
        return f"{whole}.{tenths} GB" if tenths else f"{whole} GB"
    return f"{megabytes} MB"


def datetime_filter(value, fmt: str = "medium") -> str:
    """Jinja filter: a UTC datetime in the locale's format, marked UTC (empty for None)."""
    if value is None:
        return ""
    return f"{format_datetime(value, fmt)} UTC"


def date_filter(value, fmt: str = "medium") -> str:
    """Format a calendar day in the current language."""
    return format_date(value, fmt) if value is not None else ""


def register_template_helpers(app) -> None:
    """Make the filters and the language list available to templates."""
    app.jinja_env.filters["money"] = money_filter
    app.jinja_env.filters["data"] = data_filter
    app.jinja_env.filters["datetime"] = datetime_filter
    app.jinja_env.filters["date"] = date_filter

    @app.context_processor
    def inject_languages():
        return {"language_names": LANGUAGE_NAMES, "current_locale": str(get_locale() or "en")}
