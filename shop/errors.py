"""Error pages: HTML for the site, the JSON error shape under ``/api/``."""

import logging

from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from limits.errors import StorageError
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException, InternalServerError

from shop.api.errors import api_error_response, is_api_request

log = logging.getLogger(__name__)


def _html_error(status: int, title: str, message: str):
    return render_template("errors/error.html", status=status, title=title, message=message), status


def handle_http_exception(exc: HTTPException):
    """Render any HTTP error as the API's JSON error or the site's error page."""
    if is_api_request():
        return api_error_response(exc)
    titles = {
        400: _("Bad request"),
        401: _("Please log in"),
        403: _("Not allowed"),
        404: _("Page not found"),
        405: _("Not allowed"),
        413: _("Upload too large"),
        429: _("Too many requests"),
    }
    messages = {
        403: _("Your account cannot open this page."),
        404: _("We could not find this page. Check the address or go back to the shop."),
        429: _("Too many attempts. Please wait a little and try again."),
    }
    status = exc.code or 500
    return _html_error(
        status,
        titles.get(status, _("Something went wrong")),
        messages.get(status, _("The request could not be handled.")),
    )


def handle_csrf_error(exc: CSRFError):
    """Refuse a form post without a valid CSRF token."""
    return _html_error(
        400,
        _("Form expired"),
        _("The form was too old or not sent from this site. Reload the page and try again."),
    )


def handle_storage_error(exc: Exception):
    """Refuse the request when the rate-limit store is down, rather than not limiting."""
    log.error("rate-limit store unavailable: %s", exc)
    if is_api_request():
        return api_error_response(
            InternalServerError(),
            status=503,
            code="service_unavailable",
            message="Temporarily unavailable, try again shortly.",
        )
    return _html_error(503, _("Temporarily unavailable"), _("Please try again in a minute."))


def handle_unexpected_error(exc: Exception):
    """Log an unexpected failure and show a plain 500 page (never a traceback).

    Under ``TESTING`` the error propagates, so a test sees the real traceback.
    """
    if current_app.testing:
        raise exc
    log.exception("unhandled error on %s %s", request.method, request.path)
    if is_api_request():
        return api_error_response(InternalServerError())
    return _html_error(
        500, _("Something went wrong"), _("We have been told about it. Please try again.")
    )


def register_errorhandlers(app) -> None:
    """Attach the handlers to the app."""
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(StorageError, handle_storage_error)
    app.register_error_handler(RedisError, handle_storage_error)
    app.register_error_handler(Exception, handle_unexpected_error)
