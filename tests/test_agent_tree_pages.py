"""The reseller tree through pages and the API: isolation, float moves, margins, suspension.

A sub-agent (LEAF), its parent (SUB1) and SUB1's sibling (SUB2) each try to read, void,
reprint or report on the others' objects: only a parent reading its descendants succeeds.
"""

import csv
import io

from shop.agents import sales, transfers
from shop.agents import services as agent_services
from shop.agents.ledger import ledger_sum
from shop.agents.models import Agent, AgentStatus
from shop.audit.services import Actor
from shop.auth.models import User
from shop.extensions import db
from shop.timeutil import utcnow
from tests.agents_helpers import auth, db_get, make_tree
from tests.factories import PASSWORD, make_product, make_user

ACTOR = Actor(label="test")


class World:
    """The tree with a float, a voucher sold by each agent, and API keys of three of them."""

    def __init__(self):
        self.product = make_product(sku="ASIA-10", price=10_000)
        self.tree = make_tree(float_each=100_000)
        self.serial = {}
        self.batch = {}
        for agent in (self.tree.dist, self.tree.sub1, self.tree.sub2, self.tree.leaf):
            sale = sales.sell_vouchers(agent.id, "ASIA-10", 1, ACTOR)
            self.serial[agent.code] = sale.vouchers[0].serial
            self.batch[agent.code] = sale.batch.id
        self.key = {
            code: agent_services.create_api_key(code, label="till")[1]
            for code in ("SUB1", "SUB2", "LEAF")
        }


def log_in(client, email):
    client.post("/logout")
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302


def manager(code):
    return f"manager-{code.lower()}@example.com"


def csv_agents(response) -> set[str]:
    assert response.status_code == 200
    rows = csv.DictReader(io.StringIO(response.data.decode("utf-8-sig")))
    return {row["agent_code"] for row in rows}


def test_only_a_parent_reads_its_descendants_through_the_pages(app, client):
    world = World()
    log_in(client, manager("SUB1"))
    page = client.get("/manage/agents/LEAF")
    assert page.status_code == 200 and "Shop LEAF" in page.get_data(as_text=True)
    assert csv_agents(client.get("/reports/sales?preset=today&format=csv")) == {"SUB1", "LEAF"}
    assert csv_agents(client.get("/reports/sales?preset=today&format=csv&agent=LEAF")) == {"LEAF"}
    report_page = client.get("/reports/sales?preset=today").get_data(as_text=True)
    assert "agent=LEAF" in report_page and "agent=SUB2" not in report_page
    tree_page = client.get("/manage/tree").get_data(as_text=True)
    assert "LEAF" in tree_page and "SUB2" not in tree_page and "Shop DIST" not in tree_page
    # The parent cannot void or reprint its sub-agent's voucher: the counter is per shop.
    leaf_serial = world.serial["LEAF"]
    assert client.post(f"/counter/vouchers/{leaf_serial}/void").status_code == 404
    assert client.post(f"/counter/vouchers/{leaf_serial}/reprint").status_code == 404
    assert client.get(f"/counter/batches/{world.batch['LEAF']}.pdf").status_code == 404
    # Nor anything of its sibling or its own parent.
    for code in ("SUB2", "DIST"):
        assert client.get(f"/manage/agents/{code}").status_code == 404
        assert client.post(f"/counter/vouchers/{world.serial[code]}/void").status_code == 404
        assert csv_agents(client.get(f"/reports/sales?preset=today&format=csv&agent={code}")) == {
            "SUB1",
            "LEAF",
        }
    assert client.get("/manage/agents/SUB1").status_code == 404  # itself is not a sub-agent

    log_in(client, manager("SUB2"))
    assert client.get("/manage/agents/LEAF").status_code == 404
    assert client.get("/manage/agents/SUB1").status_code == 404
    assert csv_agents(client.get("/reports/sales?preset=today&format=csv&agent=LEAF")) == {"SUB2"}
    assert client.post(f"/counter/vouchers/{leaf_serial}/void").status_code == 404

    log_in(client, manager("LEAF"))
    for code in ("SUB1", "SUB2", "DIST"):
        assert client.get(f"/manage/agents/{code}").status_code == 404
        assert client.post(f"/counter/vouchers/{world.serial[code]}/reprint").status_code == 404
    assert csv_agents(client.get("/reports/sales?preset=today&format=csv&agent=SUB1")) == {"LEAF"}
    body = client.get("/reports/sales?preset=today").get_data(as_text=True)
    assert "Shop SUB1" not in body and "Distributor" not in body
    assert client.post("/manage/agents/SUB1/float", data={"amount": "1.00"}).status_code in (
        400,
        404,
    )
    db.session.rollback()
    assert db_get(world.tree.sub1.id).balance == ledger_sum(world.tree.sub1.id)


def test_the_parent_sees_each_levels_earnings_but_a_child_never_its_parents(app, client):
    World()
    log_in(client, manager("DIST"))
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get("/reports/sales?preset=today&format=earnings_csv").data.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert {row["agent_code"] for row in rows} == {"DIST", "SUB1", "SUB2", "LEAF"}
    leaf_sale = [row for row in rows if row["seller_code"] == "LEAF"]
    assert sorted((row["level"], row["earning_minor"]) for row in leaf_sale) == [
        ("1", "1000"),
        ("2", "500"),
        ("3", "500"),
    ]
    pdf = client.get("/reports/sales?preset=today&format=pdf")
    assert pdf.mimetype == "application/pdf"
    page = client.get("/reports/sales?preset=today").get_data(as_text=True)
    assert "Earnings per level" in page

    log_in(client, manager("SUB1"))
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get("/reports/sales?preset=today&format=earnings_csv").data.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert {row["agent_code"] for row in rows} == {"SUB1", "LEAF"}  # never DIST's earnings
    assert {row["seller_code"] for row in rows} == {"SUB1", "LEAF"}


def test_only_a_parent_key_reads_its_descendants_through_the_api(app, client):
    world = World()
    leaf, sub1, sub2 = world.key["LEAF"], world.key["SUB1"], world.key["SUB2"]
    today = utcnow().date().isoformat()

    found = client.get(f"/api/v1/vouchers/{world.serial['LEAF']}", headers=auth(sub1))
    assert found.status_code == 200
    assert found.json["agent"] == "LEAF" and "pin" not in found.json
    for key, serial in ((sub2, "LEAF"), (leaf, "SUB1"), (leaf, "SUB2"), (sub1, "DIST")):
        response = client.get(f"/api/v1/vouchers/{world.serial[serial]}", headers=auth(key))
        assert response.status_code == 404, serial
    # Void and reprint stay with the seller, even for its parent.
    response = client.post(f"/api/v1/vouchers/{world.serial['LEAF']}/void", headers=auth(sub1))
    assert response.status_code == 404
    response = client.get(f"/api/v1/batches/{world.batch['LEAF']}.pdf", headers=auth(sub1))
    assert response.status_code == 404

    report = client.get(f"/api/v1/reports/sales?from={today}&to={today}", headers=auth(sub1))
    assert report.status_code == 200
    assert {line["agent"] for line in report.json["by_agent"]} == {"SUB1", "LEAF"}
    assert {line["agent"] for line in report.json["earnings_by_level"]} == {"SUB1", "LEAF"}
    one = client.get(
        f"/api/v1/reports/sales?from={today}&to={today}&agent=LEAF", headers=auth(sub1)
    )
    assert one.status_code == 200 and one.json["totals"]["count"] == 1
    for key, code in ((sub2, "LEAF"), (leaf, "SUB1"), (sub1, "DIST")):
        response = client.get(
            f"/api/v1/reports/sales?from={today}&to={today}&agent={code}", headers=auth(key)
        )
        assert response.status_code == 404
        assert response.json["error"]["code"] == "agent_not_found"
    own = client.get(f"/api/v1/reports/sales?from={today}&to={today}", headers=auth(leaf)).json
    assert own["by_agent"] == [] and {line["agent"] for line in own["earnings_by_level"]} == {
        "LEAF"
    }

    listed = client.get("/api/v1/agents", headers=auth(sub1)).json["agents"]
    assert [item["code"] for item in listed] == ["SUB1", "LEAF"]
    assert listed[0]["parent"] is None  # the key learns nothing of its parent
    assert client.get("/api/v1/agents", headers=auth(leaf)).json["agents"][0]["parent"] is None
    assert client.get("/api/v1/agents/LEAF", headers=auth(sub1)).status_code == 200
    assert client.get("/api/v1/agents/SUB1", headers=auth(leaf)).status_code == 404
    assert client.get("/api/v1/agents/SUB2", headers=auth(sub1)).status_code == 404
    assert "parent" not in client.get("/api/v1/agent", headers=auth(leaf)).json


def test_a_parent_key_moves_float_to_a_child_once_per_idempotency_key(app, client):
    world = World()
    sub1 = world.key["SUB1"]
    before_parent = db_get(world.tree.sub1.id).balance
    before_child = db_get(world.tree.leaf.id).balance
    headers = {**auth(sub1), "Idempotency-Key": "move-1"}
    first = client.post("/api/v1/agents/LEAF/transfers", json={"amount": 2500}, headers=headers)
    assert first.status_code == 201
    assert first.json["balance"]["amount"] == before_parent - 2500
    assert first.json["agent_balance"]["amount"] == before_child + 2500
    again = client.post("/api/v1/agents/LEAF/transfers", json={"amount": 2500}, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert db_get(world.tree.sub1.id).balance == before_parent - 2500
    back = client.post("/api/v1/agents/LEAF/take-backs", json={"amount": 1000}, headers=auth(sub1))
    assert back.status_code == 201 and back.json["agent_balance"]["amount"] == before_child + 1500
    too_much = client.post(
        "/api/v1/agents/LEAF/take-backs", json={"amount": 10**7}, headers=auth(sub1)
    )
    assert too_much.status_code == 402
    assert too_much.json["error"]["code"] == "insufficient_credit"
    for key, code in ((world.key["SUB2"], "LEAF"), (world.key["LEAF"], "SUB1"), (sub1, "SUB2")):
        response = client.post(
            f"/api/v1/agents/{code}/transfers", json={"amount": 100}, headers=auth(key)
        )
        assert response.status_code == 404
    bad = client.post("/api/v1/agents/LEAF/transfers", json={"amount": "10"}, headers=auth(sub1))
    assert bad.status_code == 422 and "amount" in bad.json["error"]["fields"]
    db.session.rollback()
    for agent in db.session.execute(db.select(Agent)).scalars():
        assert agent.balance == ledger_sum(agent.id)


def test_a_manager_builds_and_runs_its_subtree_from_the_pages(app, client):
    make_product(sku="ASIA-10", price=10_000)
    tree = make_tree()
    agent_services.credit_agent("DIST", 50_000)
    log_in(client, manager("DIST"))
    refused = client.post(
        "/manage/tree",
        data={
            "code": "SUB3",
            "name": "Third shop",
            "discount_bps": 2500,
            "credit_limit": 0,
            "manager_email": "manager-sub3@example.com",
            "manager_password": PASSWORD,
        },
    )
    assert refused.status_code == 400
    assert "At most your own discount: 2000 basis points." in refused.get_data(as_text=True)
    created = client.post(
        "/manage/tree",
        data={
            "code": "SUB3",
            "name": "Third shop",
            "discount_bps": 1500,
            "credit_limit": 0,
            "manager_email": "manager-sub3@example.com",
            "manager_password": PASSWORD,
        },
    )
    assert created.status_code == 302
    moved = client.post("/manage/agents/SUB3/float", data={"direction": "give", "amount": "120.00"})
    assert moved.status_code == 302
    assert db_get(agent_services.get_agent_by_code("SUB3").id).balance == 12_000
    too_much = client.post(
        "/manage/agents/SUB3/float", data={"direction": "give", "amount": "9999.00"}
    )
    assert too_much.status_code == 409
    assert "Your float cannot give this much." in too_much.get_data(as_text=True)
    terms = client.post("/manage/agents/SUB3/terms", data={"discount_bps": 3000, "credit_limit": 0})
    assert terms.status_code == 409
    price = client.post("/manage/agents/SUB3/prices", data={"sku": "ASIA-10", "price": "79.00"})
    assert price.status_code == 409  # DIST itself pays 80.00
    assert (
        client.post(
            "/manage/agents/SUB3/prices", data={"sku": "ASIA-10", "price": "85.00"}
        ).status_code
        == 302
    )
    staff = client.post(
        "/manage/agents/LEAF/users",
        data={"role": "agent_staff", "email": "leaf-staff@example.com", "password": PASSWORD},
    )
    assert staff.status_code == 302  # a grandchild's accounts too

    # Suspending SUB1 from the page stops LEAF's counter, with the reason.
    assert (
        client.post("/manage/agents/SUB1/status", data={"status": "suspended"}).status_code == 302
    )
    log_in(client, "leaf-staff@example.com")
    counter = client.get("/counter").get_data(as_text=True)
    assert "Sales are stopped: SUB1, the agent above this shop, is suspended." in counter
    sale = client.post("/counter/sell", data={"sku": "ASIA-10", "quantity": 1})
    assert sale.status_code == 409
    assert "Sales are stopped: SUB1, the agent above this shop, is suspended." in sale.get_data(
        as_text=True
    )
    log_in(client, manager("DIST"))
    assert client.post("/manage/agents/SUB1/status", data={"status": "active"}).status_code == 302
    assert client.post("/manage/agents/SUB1/float", data={"direction": "give", "amount": "100"})
    transfers.transfer_float(tree.sub1.id, "LEAF", 10_000, ACTOR)
    log_in(client, "leaf-staff@example.com")
    assert client.post("/counter/sell", data={"sku": "ASIA-10", "quantity": 1}).status_code == 302


def test_sales_below_a_suspended_parent_are_refused_by_the_api_with_its_code(app, client):
    world = World()
    agent_services.set_agent_status("SUB1", AgentStatus.SUSPENDED)
    refused = client.post(
        "/api/v1/vouchers", json={"sku": "ASIA-10", "quantity": 1}, headers=auth(world.key["LEAF"])
    )
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "agent_suspended"
    assert refused.json["error"]["fields"] == {"suspended_agent": "SUB1"}
    assert "SUB1" in refused.json["error"]["message"]
    agent_services.set_agent_status("SUB1", AgentStatus.ACTIVE)
    sold = client.post(
        "/api/v1/vouchers", json={"sku": "ASIA-10", "quantity": 1}, headers=auth(world.key["LEAF"])
    )
    assert sold.status_code == 201


def test_a_sub_agents_float_request_is_decided_by_its_parents_manager(app, client):
    tree = make_tree()
    agent_services.credit_agent("DIST", 10_000)
    log_in(client, manager("SUB1"))
    sent = client.post(
        "/manage/float-requests", data={"amount": "40.00", "payment_reference": "cash"}
    )
    assert sent.status_code == 302
    admin = make_user(role="admin")
    log_in(client, admin.email)
    assert "cash" not in client.get("/admin/float-requests").get_data(as_text=True)
    log_in(client, manager("SUB2"))
    assert client.post("/manage/float-requests/1/approve").status_code == 404
    log_in(client, manager("DIST"))
    assert "cash" in client.get("/manage/tree").get_data(as_text=True)
    assert client.post("/manage/float-requests/1/approve").status_code == 302
    assert db_get(tree.sub1.id).balance == 4000
    assert db_get(tree.dist.id).balance == 6000


def test_the_admin_sees_the_tree_and_moves_an_agent(app, client, login):
    World()
    login("admin")
    page = client.get("/admin/agents/tree").get_data(as_text=True)
    assert page.index("DIST") < page.index("SUB1") < page.index("LEAF") < page.index("SUB2")
    settlement = client.get("/reports/settlement?preset=today").get_data(as_text=True)
    assert "tree-level-3" in settlement and "Commissions" in settlement
    refused = client.post("/admin/agents/DIST/move", data={"parent": "LEAF"}, follow_redirects=True)
    assert "cannot move under itself" in refused.get_data(as_text=True)
    assert client.post("/admin/agents/LEAF/move", data={"parent": ""}).status_code == 302
    db.session.rollback()
    leaf = agent_services.get_agent_by_code("LEAF")
    assert (leaf.parent_id, leaf.depth, leaf.path) == (None, 1, f"/{leaf.id}/")
    credit = client.post("/admin/agents/SUB1/credit", data={"amount": 100}, follow_redirects=True)
    assert "comes from its parent agent" in credit.get_data(as_text=True)


def test_tree_pages_speak_chinese(app, client):
    World()
    log_in(client, manager("SUB1"))
    client.get("/lang/zh_Hans_CN?next=/")
    body = client.get("/manage/tree").get_data(as_text=True)
    assert "下级代理" in body
    body = client.get("/manage/agents/LEAF").get_data(as_text=True)
    assert "转移预付款" in body


def test_a_parent_reads_its_sub_agents_proof_and_manages_their_accounts_but_no_others(app, client):
    make_tree()
    log_in(client, manager("SUB1"))
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    sent = client.post(
        "/manage/float-requests",
        data={
            "amount": "12.00",
            "payment_reference": "bank 7",
            "proof": (io.BytesIO(png), "p.png"),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302
    log_in(client, manager("DIST"))
    proof = client.get("/manage/sub-agent-requests/1/proof")
    assert proof.status_code == 200 and proof.data == png
    leaf_manager = db.session.execute(db.select(User).filter_by(email=manager("LEAF"))).scalar_one()
    off = client.post(f"/manage/agents/LEAF/users/{leaf_manager.id}/active", data={"active": "0"})
    assert off.status_code == 302
    db.session.rollback()
    assert db.session.get(User, leaf_manager.id).active is False
    dist_manager = db.session.execute(db.select(User).filter_by(email=manager("DIST"))).scalar_one()
    # An account of another agent, named through a sub-agent's page, is not found.
    assert (
        client.post(
            f"/manage/agents/LEAF/users/{dist_manager.id}/active", data={"active": "0"}
        ).status_code
        == 404
    )
    log_in(client, manager("SUB2"))
    assert client.get("/manage/sub-agent-requests/1/proof").status_code == 404
    assert client.post("/manage/float-requests/1/reject").status_code == 404
    log_in(client, manager("SUB1"))
    assert client.get("/manage/sub-agent-requests/1/proof").status_code == 404  # its own: not
    assert client.post("/manage/float-requests/1/approve").status_code == 404  # self-approval
