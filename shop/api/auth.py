"""Agent authentication for the API: ``Authorization: Bearer <api key>``."""

from functools import wraps

from flask import g, request

from shop.agents.services import authenticate_api_key
from shop.api.errors import ApiError
from shop.audit.services import Actor
from shop.web import client_ip


def agent_key_required(view):
    """Let requests with a live agent API key through; set ``g.api_key`` and ``g.agent_id``."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        api_key = authenticate_api_key(key.strip()) if scheme.lower() == "bearer" else None
        if api_key is None:
            raise ApiError(
                401,
                "unauthorized",
                "A valid agent API key is needed: Authorization: Bearer <key>.",
                headers={"WWW-Authenticate": 'Bearer realm="api"'},
            )
        g.api_key = api_key
        g.agent_id = api_key.agent_id
        return view(*args, **kwargs)

    return wrapped


def api_actor() -> Actor:
    """Return the actor of the current API request (its key, never the key itself)."""
    return Actor(label=f"api-key:{g.api_key.id}", ip_address=client_ip())


def agent_scope() -> str:
    """Return the idempotency scope of the current agent."""
    return f"agent:{g.agent_id}"
