"""Managers ask for more float (with a payment reference and proof); the level above decides.

A request of an agent of the operator goes to the operator: approval writes a credit purchase.
A sub-agent's request goes to its parent's managers: approval moves the float out of the
parent's own (a transfer, refused if the parent cannot pay). Either way the request moves
``pending -> approved`` in the same transaction, by a conditional update: however often
"approve" is pressed, the float is credited once. Proof files are stored under
``instance/uploads/`` with random names, checked by content.
"""

import hashlib
import secrets
from pathlib import Path

from flask import current_app
from sqlalchemy import update

from shop.agents import ledger, transfers
from shop.agents.models import Agent, FloatRequest, FloatRequestStatus, LedgerKind
from shop.audit.services import Actor, record_event
from shop.db import begin_write
from shop.extensions import db
from shop.timeutil import utcnow

#: Proof files accepted, recognised by their first bytes (not by the name the browser sends).
PROOF_TYPES = {
    b"%PDF-": ("application/pdf", ".pdf"),
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
}
MAX_PROOF_BYTES = 5 * 1024 * 1024
MAX_REQUEST_AMOUNT = 100_000_000


class FloatRequestError(Exception):
    """Base of float request errors."""


class InvalidProof(FloatRequestError):
    """The proof is not a PDF, PNG or JPEG of at most 5 MB."""


class InvalidRequest(FloatRequestError):
    """The amount or reference is out of range."""


class RequestNotFound(FloatRequestError):
    """No such request (of this agent)."""


class AlreadyDecided(FloatRequestError):
    """The request was approved or rejected before."""


def uploads_folder() -> Path:
    """Return the folder proof files are kept in, creating it."""
    folder = Path(current_app.instance_path) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _store_proof(content: bytes) -> tuple[str, str, str]:
    if not content:
        return "", "", ""
    if len(content) > MAX_PROOF_BYTES:
        raise InvalidProof("at most 5 MB")
    for magic, (mime, suffix) in PROOF_TYPES.items():
        if content.startswith(magic):
            name = secrets.token_hex(16) + suffix
            (uploads_folder() / name).write_bytes(content)
            return name, mime, hashlib.sha256(content).hexdigest()
    raise InvalidProof("a PDF, PNG or JPEG file")


def request_float(
    agent_id: int, amount: int, payment_reference: str, proof: bytes, actor: Actor
) -> FloatRequest:
    """Record a manager's request for ``amount`` of float and commit."""
    if not isinstance(amount, int) or not 0 < amount <= MAX_REQUEST_AMOUNT:
        raise InvalidRequest("amount")
    reference = (payment_reference or "").strip()
    if not reference or len(reference) > 80:
        raise InvalidRequest("payment_reference")
    proof_file, proof_type, proof_sha256 = _store_proof(proof)
    begin_write(db.session)
    request = FloatRequest(
        agent_id=agent_id,
        amount=amount,
        payment_reference=reference,
        proof_file=proof_file,
        proof_type=proof_type,
        proof_sha256=proof_sha256,
        requested_by_id=actor.user_id,
    )
    db.session.add(request)
    db.session.flush()
    record_event(
        "float_request.created",
        actor,
        object_type="float_request",
        object_id=request.id,
        agent_id=agent_id,
        details={"amount": amount, "reference": reference},
    )
    db.session.commit()
    return request


#: ``decider_id`` of the operator: it decides the requests of agents without a parent.
OPERATOR = None


def _decide(
    request_id: int, status: FloatRequestStatus, actor: Actor, note: str, decider_id
) -> FloatRequest:
    existing = db.session.get(FloatRequest, request_id)
    if existing is None or existing.agent.parent_id != decider_id:
        raise RequestNotFound(str(request_id))
    moved = db.session.execute(
        update(FloatRequest)
        .where(FloatRequest.id == request_id, FloatRequest.status == FloatRequestStatus.PENDING)
        .values(
            status=status,
            decided_by_id=actor.user_id,
            decided_at=utcnow(),
            decision_note=note[:200],
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    request = db.session.get(FloatRequest, request_id)
    if request is None:
        raise RequestNotFound(str(request_id))
    if moved != 1:
        db.session.rollback()
        raise AlreadyDecided(request.status.value)
    db.session.refresh(request)
    return request


def approve_request(request_id: int, actor: Actor, note: str = "", *, decider_id=OPERATOR) -> int:
    """Approve a pending request: credit the float once, commit; return the new balance.

    ``decider_id`` is the parent agent deciding for its sub-agent (the operator: ``OPERATOR``);
    the float then comes out of the parent's, which must be able to pay for it.
    """
    begin_write(db.session)
    try:
        request = _decide(request_id, FloatRequestStatus.APPROVED, actor, note, decider_id)
        if decider_id is OPERATOR:
            balance = ledger.credit_float(
                request.agent_id,
                request.amount,
                kind=LedgerKind.CREDIT_PURCHASE,
                reference=f"request:{request.id}",
                actor=actor,
                note=request.payment_reference,
            )
        else:
            moved = transfers.give(
                db.session.get(Agent, decider_id),
                request.agent,
                request.amount,
                actor=actor,
                note=request.payment_reference,
                reference=f"request:{request.id}",
            )
            balance = moved.child_balance
        record_event(
            "float_request.approved",
            actor,
            object_type="float_request",
            object_id=request.id,
            agent_id=request.agent_id,
            details={"amount": request.amount, "balance": balance},
        )
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return balance


def reject_request(
    request_id: int, actor: Actor, note: str = "", *, decider_id=OPERATOR
) -> FloatRequest:
    """Reject a pending request; nothing is credited."""
    begin_write(db.session)
    request = _decide(request_id, FloatRequestStatus.REJECTED, actor, note, decider_id)
    record_event(
        "float_request.rejected",
        actor,
        object_type="float_request",
        object_id=request.id,
        agent_id=request.agent_id,
        details={"note": note[:200]},
    )
    db.session.commit()
    return request


def get_request(request_id: int, *, agent_id: int | None = None) -> FloatRequest:
    """Return a request; with ``agent_id`` only one of that agent's."""
    request = db.session.get(FloatRequest, request_id)
    if request is None or (agent_id is not None and request.agent_id != agent_id):
        raise RequestNotFound(str(request_id))
    return request


_ANYONE = object()


def list_requests(
    *,
    agent_id: int | None = None,
    status: FloatRequestStatus | None = None,
    limit: int = 100,
    decider_id=_ANYONE,
):
    """Return requests, newest first, optionally of one agent, one status, or one decider.

    ``decider_id`` keeps the requests of a parent's direct sub-agents (``OPERATOR``: of the
    operator's own agents).
    """
    query = db.select(FloatRequest).order_by(FloatRequest.id.desc()).limit(limit)
    if agent_id is not None:
        query = query.where(FloatRequest.agent_id == agent_id)
    if decider_id is not _ANYONE:
        query = query.join(Agent, Agent.id == FloatRequest.agent_id).where(
            Agent.parent_id.is_(None) if decider_id is None else Agent.parent_id == decider_id
        )
    if status is not None:
        query = query.where(FloatRequest.status == status)
    return list(db.session.execute(query).scalars())


def proof_path(request: FloatRequest) -> Path | None:
    """Return the stored proof file of a request, if it has one."""
    if not request.proof_file:
        return None
    return uploads_folder() / request.proof_file
