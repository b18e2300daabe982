"""Flask extensions, created unbound and attached to the app in :func:`shop.create_app`."""

from functools import wraps

from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from shop.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
#: Route limits use the client address; throttles with other keys use ``shop.throttle``.
limiter = Limiter(key_func=get_remote_address)


def rate_limit(limit_value, **options):
    """``limiter.limit`` for a view, costing nothing while ``RATELIMIT_ENABLED`` is off.

    Flask-Limiter evaluates a decorated route's limits on every request even when limiting is
    switched off; the redemption benchmark runs with limits off and measures that cost. With
    limiting on, the view is exactly ``limiter.limit(...)(view)``.
    """

    def decorator(view):
        limited = limiter.limit(limit_value, **options)(view)

        @wraps(view)
        def dispatch(*args, **kwargs):
            if current_app.config["RATELIMIT_ENABLED"]:
                return limited(*args, **kwargs)
            return view(*args, **kwargs)

        return dispatch

    return decorator
