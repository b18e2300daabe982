"""``Idempotency-Key`` for POSTs that create something (see shared/API.md).

The first request with a key claims it by inserting a row (unique per scope and key); repeats
with the same body get the stored response again, a different body is ``422
idempotency_key_reused`` and a repeat while the first is running is ``409
idempotency_key_in_use``. Stored bodies are sealed with the PIN encryption key, since a voucher
sale's response holds PINs. Keys are kept at least 24 hours.
"""

import hashlib
import hmac
from datetime import timedelta
from functools import wraps

from flask import Response, current_app, make_response, request
from sqlalchemy.exc import IntegrityError

from shop.api.errors import ApiError, handle_api_error
from shop.api.models import IdempotencyRecord
from shop.extensions import db
from shop.timeutil import utcnow
from shop.vouchers.crypto import pin_vault

KEY_LIFETIME = timedelta(hours=24)
#: A claim whose request died without an answer is taken over after this long.
ABANDONED_AFTER = timedelta(minutes=2)
MAX_KEY_LENGTH = 200


def _fingerprint() -> str:
    """Return a keyed digest of the request: a body holding a PIN must not be guessable from it."""
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), digestmod=hashlib.sha256)
    digest.update(request.method.encode())
    digest.update(b"\0" + request.path.encode() + b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _context(record: IdempotencyRecord) -> str:
    return f"idempotency:{record.scope}:{record.key}"


def _claim(scope: str, key: str, fingerprint: str) -> IdempotencyRecord | Response:
    """Insert the claim, or return the response a repeat gets."""
    now = utcnow()
    record = IdempotencyRecord(scope=scope, key=key, fingerprint=fingerprint, created_at=now)
    db.session.add(record)
    try:
        db.session.commit()
        return record
    except IntegrityError:
        db.session.rollback()
    existing = db.session.execute(
        db.select(IdempotencyRecord).filter_by(scope=scope, key=key)
    ).scalar_one()
    expired = existing.created_at < now - KEY_LIFETIME
    abandoned = existing.status_code is None and existing.created_at < now - ABANDONED_AFTER
    if expired or abandoned:
        taken = db.session.execute(
            db.update(IdempotencyRecord)
            .where(
                IdempotencyRecord.id == existing.id,
                IdempotencyRecord.created_at == existing.created_at,
            )
            .values(created_at=now, fingerprint=fingerprint, status_code=None, sealed_body="")
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        if taken == 1:
            db.session.refresh(existing)
            return existing
        raise ApiError(
            409, "idempotency_key_in_use", "A request with this Idempotency-Key is being processed."
        )
    if existing.fingerprint != fingerprint:
        raise ApiError(
            422, "idempotency_key_reused", "This Idempotency-Key was used with a different request."
        )
    if existing.status_code is None:
        raise ApiError(
            409, "idempotency_key_in_use", "A request with this Idempotency-Key is being processed."
        )
    body = pin_vault().unseal(existing.sealed_body, _context(existing), existing.sealed_body_key)
    response = Response(body, status=existing.status_code, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent(scope_of):
    """Honour ``Idempotency-Key`` on a view; ``scope_of()`` names whose key space it is."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            key = request.headers.get("Idempotency-Key")
            if key is None:
                return view(*args, **kwargs)
            if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
                raise ApiError(
                    422,
                    "invalid_request",
                    "Idempotency-Key must be 1 to 200 printable characters.",
                    fields={"Idempotency-Key": "1 to 200 printable characters"},
                )
            claimed = _claim(scope_of(), key, _fingerprint())
            if isinstance(claimed, Response):
                return claimed
            try:
                try:
                    response = make_response(view(*args, **kwargs))
                except ApiError as exc:
                    response = handle_api_error(exc)
            except BaseException:
                _forget(claimed.id)
                raise
            _store(claimed.id, response)
            return response

        return wrapped

    return decorator


def _forget(record_id: int) -> None:
    db.session.rollback()
    db.session.execute(db.delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
    db.session.commit()


def _store(record_id: int, response: Response) -> None:
    # Transient answers (rate limited, server trouble) are not kept: a retry must really retry.
    if response.status_code >= 500 or response.status_code == 429:
        _forget(record_id)
        return
    db.session.rollback()
    record = db.session.get(IdempotencyRecord, record_id)
    vault = pin_vault()
    record.status_code = response.status_code
    record.sealed_body = vault.seal(response.get_data(), _context(record))
    record.sealed_body_key = vault.current_encryption_key_id
    record.completed_at = utcnow()
    db.session.commit()


def purge_expired() -> int:
    """Delete keys older than their lifetime; return how many."""
    cutoff = utcnow() - KEY_LIFETIME - timedelta(hours=24)
    deleted = db.session.execute(
        db.delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff)
    ).rowcount
    db.session.commit()
    return deleted
