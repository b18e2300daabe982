"""Float requests: a manager asks with proof of payment; an approval credits the float once."""

import io
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shop.agents import float_requests, ledger
from shop.agents.models import Agent, FloatRequest, FloatRequestStatus, LedgerEntry
from shop.audit.services import Actor
from shop.extensions import db
from tests.factories import make_agent

PDF_PROOF = b"%PDF-1.4\n% proof of transfer\n"
ADMIN = Actor(label="admin")


@pytest.fixture
def app_config():
    return {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 10, "max_overflow": 0, "pool_timeout": 30}}


def ask(client, amount="250.00", reference="TT-1", proof=PDF_PROOF, name="transfer.pdf"):
    data = {"amount": amount, "payment_reference": reference}
    if proof is not None:
        data["proof"] = (io.BytesIO(proof), name)
    return client.post("/manage/float-requests", data=data, content_type="multipart/form-data")


def test_a_manager_requests_float_with_proof_and_can_download_it(client, login):
    agent = make_agent(code="REQ")
    login("agent_manager", agent=agent)
    assert ask(client).status_code == 302
    request = db.session.execute(db.select(FloatRequest)).scalar_one()
    assert (request.amount, request.status, request.proof_type) == (
        25000,
        FloatRequestStatus.PENDING,
        "application/pdf",
    )
    download = client.get(f"/manage/float-requests/{request.id}/proof")
    assert download.status_code == 200 and download.data == PDF_PROOF


@pytest.mark.parametrize(
    ("amount", "proof", "name"),
    [
        ("0", PDF_PROOF, "p.pdf"),
        ("12.345", PDF_PROOF, "p.pdf"),
        ("250", b"MZ\x90\x00 not a pdf", "p.pdf"),
    ],
)
def test_bad_requests_are_explained_and_stored_nowhere(client, login, amount, proof, name):
    login("agent_manager", agent=make_agent(code="REQ"))
    response = ask(client, amount=amount, proof=proof, name=name)
    assert response.status_code == 400
    assert db.session.execute(db.select(FloatRequest)).first() is None


def test_approving_twice_credits_the_float_once(app, client, login):
    agent = make_agent(code="REQ")
    login("agent_manager", agent=agent)
    ask(client)
    request_id = db.session.execute(db.select(FloatRequest.id)).scalar_one()
    assert float_requests.approve_request(request_id, ADMIN) == 25000
    with pytest.raises(float_requests.AlreadyDecided):
        float_requests.approve_request(request_id, ADMIN)
    with pytest.raises(float_requests.AlreadyDecided):
        float_requests.reject_request(request_id, ADMIN)
    db.session.rollback()
    assert db.session.get(Agent, agent.id).balance == 25000 == ledger.ledger_sum(agent.id)


def test_racing_approvals_credit_once(app, client, login):
    agent = make_agent(code="RACE")
    login("agent_manager", agent=agent)
    ask(client)
    request_id = db.session.execute(db.select(FloatRequest.id)).scalar_one()
    barrier = threading.Barrier(6)

    def approve(_):
        with app.app_context():
            barrier.wait()
            try:
                float_requests.approve_request(request_id, ADMIN)
            except float_requests.AlreadyDecided:
                return "refused"
            finally:
                db.session.remove()
            return "approved"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(approve, range(6)))
    assert outcomes.count("approved") == 1
    db.session.rollback()
    credits = (
        db.session.execute(db.select(LedgerEntry).filter_by(agent_id=agent.id)).scalars().all()
    )
    assert [entry.amount for entry in credits] == [25000]


def test_a_rejected_request_credits_nothing(client, login):
    agent = make_agent(code="REQ")
    login("agent_manager", agent=agent)
    ask(client)
    request_id = db.session.execute(db.select(FloatRequest.id)).scalar_one()
    float_requests.reject_request(request_id, ADMIN, "no transfer received")
    db.session.rollback()
    assert db.session.get(Agent, agent.id).balance == 0
    assert db.session.execute(db.select(LedgerEntry)).first() is None


def test_admin_approves_from_the_page(app, client, login):
    agent = make_agent(code="REQ")
    manager = app.test_client()
    from tests.factories import make_user

    user = make_user("agent_manager", agent=agent)
    manager.post("/login", data={"email": user.email, "password": "correct-horse-9"})
    ask(manager)
    request_id = db.session.execute(db.select(FloatRequest.id)).scalar_one()
    login("admin")
    assert client.get("/admin/float-requests").status_code == 200
    assert client.get(f"/admin/float-requests/{request_id}/proof").data == PDF_PROOF
    assert (
        client.post(
            f"/admin/float-requests/{request_id}/approve", data={"note": "seen"}
        ).status_code
        == 302
    )
    db.session.rollback()
    assert db.session.get(Agent, agent.id).balance == 25000


def test_another_shop_never_sees_a_request_or_its_proof(app, client, login):
    mine = make_agent(code="MINE")
    other_manager = app.test_client()
    from tests.factories import make_user

    user = make_user("agent_manager", agent=mine)
    other_manager.post("/login", data={"email": user.email, "password": "correct-horse-9"})
    ask(other_manager)
    request_id = db.session.execute(db.select(FloatRequest.id)).scalar_one()
    login("agent_manager", agent=make_agent(code="THEIRS"))
    assert client.get(f"/manage/float-requests/{request_id}/proof").status_code == 404
    assert "TT-1" not in client.get("/manage/float-requests").get_data(as_text=True)
    assert client.post(f"/admin/float-requests/{request_id}/approve").status_code == 403
