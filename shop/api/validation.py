"""Reading JSON request bodies safely."""

from flask import request

from shop.api.errors import invalid_request


def json_body() -> dict:
    """Return the request's JSON object or raise the API's ``invalid_request``."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise invalid_request("The body must be a JSON object (Content-Type: application/json).")
    return data


def required_string(data: dict, name: str, max_length: int = 200) -> str:
    """Return a required non-empty string field of the body."""
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise invalid_request(f"'{name}' is required.", {name: "required, a non-empty string"})
    if len(value) > max_length:
        raise invalid_request(f"'{name}' is too long.", {name: f"at most {max_length} characters"})
    return value
