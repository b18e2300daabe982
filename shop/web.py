"""Helpers shared by the HTML views: client address, acting user, safe redirects."""

import io
from urllib.parse import urljoin, urlsplit

from flask import current_app, request, send_file, url_for
from flask_login import current_user

from shop.audit.services import Actor


def client_ip() -> str:
    """Return the client address (corrected behind a proxy only when ``PROXY_FIX_X_FOR`` is set)."""
    return request.remote_addr or ""


def current_actor() -> Actor:
    """Return the actor for the logged-in user of this request."""
    if current_user.is_authenticated:
        return Actor.for_user(current_user, client_ip())
    return Actor(label="anonymous", ip_address=client_ip())


def is_safe_next(target: str | None) -> bool:
    """Return whether ``target`` is a path on this site (no open redirect through ``next``)."""
    if not target or "\\" in target or any(ord(ch) < 32 for ch in target):
        return False
    if not target.startswith("/") or target.startswith("//"):
        return False
    joined = urlsplit(urljoin(request.host_url, target))
    return joined.scheme in ("http", "https") and joined.netloc == urlsplit(request.host_url).netloc


def safe_next(target: str | None, default_endpoint: str = "catalog.home") -> str:
    """Return ``target`` if it is safe to redirect to, else the default page."""
    return target if is_safe_next(target) else url_for(default_endpoint)


def download_response(content: bytes, name: str, mimetype: str = "application/pdf"):
    """Send generated or stored bytes as a download that no cache keeps (PDFs may hold PINs)."""
    response = send_file(
        io.BytesIO(content),
        mimetype=mimetype,
        as_attachment=mimetype != "application/pdf",
        download_name=name,
    )
    response.headers["Cache-Control"] = "no-store"
    # The counter prints a sale's PDF from a hidden frame of its own page: same-origin framing.
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'self'"
    return response


def absolute_url(endpoint: str, **values) -> str:
    """Return an absolute URL on ``SHOP_BASE_URL``, inside or outside a request (CLI, jobs).

    For links in e-mails and text messages: they point at the shop's public address, whatever
    host the request (if any) came in on.
    """
    base = current_app.config["SHOP_BASE_URL"].rstrip("/")
    with current_app.test_request_context("/", base_url=base):
        return url_for(endpoint, _external=True, **values)
