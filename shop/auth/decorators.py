"""Access control for views."""

from functools import wraps

from flask import abort
from flask_login import current_user

from shop.auth.models import Role
from shop.extensions import login_manager


def role_required(*roles: Role):
    """Let only logged-in users holding one of ``roles`` (or admins) through.

    Anonymous visitors go to the login page; logged-in users of another role get 403.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


admin_required = role_required(Role.ADMIN)
