"""The one error shape of the JSON API: ``{"error": {"code", "message", "fields"?}}``."""

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

#: Default error codes for plain HTTP errors raised anywhere under ``/api/``.
HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An error answered to an API client with a status, a stable code and a message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fields: dict | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers or {}


def invalid_request(message: str, fields: dict | None = None) -> ApiError:
    """Return the 422 error for malformed input."""
    return ApiError(422, "invalid_request", message, fields=fields)


def is_api_request() -> bool:
    """Return whether the current request is for the JSON API."""
    return request.path.startswith("/api/")


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    """Return the JSON body of an error."""
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def handle_api_error(exc: ApiError):
    """Turn an :class:`ApiError` into its JSON response."""
    response = jsonify(error_body(exc.code, exc.message, exc.fields))
    response.status_code = exc.status
    for name, value in exc.headers.items():
        response.headers[name] = value
    return response


def api_error_response(
    exc: HTTPException, *, status: int | None = None, code: str = "", message: str = ""
):
    """Turn an HTTP exception (404, 405, 429, ...) into the API's JSON error."""
    status = status or exc.code or 500
    body = error_body(
        code or HTTP_CODES.get(status, "error"),
        message or (exc.description if status < 500 else "Internal error."),
    )
    response = jsonify(body)
    response.status_code = status
    if status == 429:
        retry = exc.response.headers.get("Retry-After") if exc.response is not None else None
        response.headers["Retry-After"] = retry or "60"
    return response
