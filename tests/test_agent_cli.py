"""The operator's command line for agents: selling float to a shop and issuing its till a key."""

import pytest
from sqlalchemy import func, select

from shop.agents.ledger import ledger_sum
from shop.agents.models import Agent, ApiKey, LedgerEntry, LedgerKind
from shop.extensions import db
from tests.agents_helpers import auth, make_agent_with_key
from tests.factories import make_agent


def shop(runner, *args):
    """Run ``flask shop <args>``."""
    return runner.invoke(args=["shop", *args])


def fresh():
    db.session.rollback()
    db.session.expire_all()


def agent_row(code: str) -> Agent:
    fresh()
    return db.session.execute(select(Agent).filter_by(code=code)).scalar_one()


def ledger_of(agent_id: int) -> list[LedgerEntry]:
    fresh()
    return list(
        db.session.execute(
            select(LedgerEntry).filter_by(agent_id=agent_id).order_by(LedgerEntry.id)
        ).scalars()
    )


def count(model) -> int:
    fresh()
    return db.session.execute(select(func.count(model.id))).scalar_one()


def assert_succeeded(result):
    assert result.exit_code == 0, result.output + repr(result.exception)


def assert_refused(result, *words):
    """The command failed with an "Error:" message mentioning ``words``."""
    assert result.exit_code != 0, result.output
    assert "Error:" in result.stderr, result.output
    for word in words:
        assert word.lower() in result.stderr.lower(), result.stderr


# --- shop credit-agent -----------------------------------------------------------------------


def test_crediting_an_agent_adds_float_and_prints_the_new_balance(runner):
    agent, _ = make_agent_with_key(code="DEMO", balance=1_000)

    result = shop(runner, "credit-agent", "DEMO", "2500", "--note", "wire TX-881")

    assert_succeeded(result)
    assert "3500" in result.output
    assert agent_row("DEMO").balance == 3_500
    entry = ledger_of(agent.id)[-1]
    assert entry.kind == LedgerKind.CREDIT_PURCHASE
    assert entry.amount == 2_500
    assert entry.balance_after == 3_500
    assert entry.note == "wire TX-881"
    assert ledger_sum(agent.id) == 3_500


def test_crediting_takes_the_agent_code_in_any_case(runner):
    make_agent(code="DEMO")

    result = shop(runner, "credit-agent", "demo", "700")

    assert_succeeded(result)
    assert "700" in result.output
    assert agent_row("DEMO").balance == 700


def test_a_credited_float_is_what_the_agent_sees_through_the_api(runner, client):
    agent, key = make_agent_with_key(code="DEMO")

    assert_succeeded(shop(runner, "credit-agent", "DEMO", "12000"))

    body = client.get("/api/v1/agent", headers=auth(key)).get_json()
    assert body["balance"] == {"amount": 12_000, "currency": "USD"}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["NOPE", "500"], ["NOPE"]),
        (["DEMO", "0"], ["greater than zero"]),
        (["DEMO", "--", "-5"], ["greater than zero"]),
    ],
)
def test_credit_agent_refuses_an_unknown_agent_or_a_non_positive_amount(runner, args, words):
    agent, _ = make_agent_with_key(code="DEMO", balance=1_000)
    entries = count(LedgerEntry)

    result = shop(runner, "credit-agent", *args)

    assert_refused(result, *words)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert agent_row("DEMO").balance == 1_000
    assert count(LedgerEntry) == entries


@pytest.mark.parametrize("amount", ["ten", "12.50", "1e3", ""])
def test_credit_agent_refuses_an_amount_that_is_not_whole_minor_units(runner, amount):
    agent, _ = make_agent_with_key(code="DEMO", balance=1_000)
    entries = count(LedgerEntry)

    result = shop(runner, "credit-agent", "DEMO", amount)

    assert_refused(result)
    assert agent_row("DEMO").balance == 1_000
    assert count(LedgerEntry) == entries


# --- shop create-api-key ---------------------------------------------------------------------


def test_a_new_api_key_is_printed_alone_on_the_last_line_and_opens_the_api(runner, client):
    agent = make_agent(code="DEMO")

    result = shop(runner, "create-api-key", "DEMO", "--label", "till")

    assert_succeeded(result)
    key = result.output.strip().splitlines()[-1]
    assert key == key.strip() and " " not in key
    response = client.get("/api/v1/agent", headers=auth(key))
    assert response.status_code == 200
    assert response.get_json()["code"] == "DEMO"
    fresh()
    (api_key,) = db.session.execute(select(ApiKey).filter_by(agent_id=agent.id)).scalars()
    assert api_key.label == "till"
    assert api_key.key_hash != key and key not in api_key.key_hash, "only a hash is stored"


def test_each_api_key_is_different(runner, client):
    make_agent(code="DEMO")

    first = shop(runner, "create-api-key", "DEMO").output.strip().splitlines()[-1]
    second = shop(runner, "create-api-key", "DEMO").output.strip().splitlines()[-1]

    assert first != second
    for key in (first, second):
        assert client.get("/api/v1/agent", headers=auth(key)).status_code == 200


def test_create_api_key_refuses_an_unknown_agent(runner):
    make_agent(code="DEMO")

    result = shop(runner, "create-api-key", "NOPE", "--label", "till")

    assert_refused(result, "NOPE")
    assert count(ApiKey) == 0


def test_create_agent_with_a_parent_makes_a_sub_agent_whose_float_comes_from_the_parent(runner):
    make_agent(code="CITY", discount_bps=2000)
    assert_succeeded(
        shop(
            runner,
            "create-agent",
            "CORNER",
            "Corner shop",
            "--parent",
            "CITY",
            "--discount-bps",
            "1000",
        )
    )
    corner = agent_row("CORNER")
    city = agent_row("CITY")
    assert (corner.parent_id, corner.depth, corner.path) == (
        city.id,
        2,
        f"/{city.id}/{corner.id}/",
    )
    assert_refused(
        shop(
            runner, "create-agent", "GREEDY", "Greedy", "--parent", "CITY", "--discount-bps", "2500"
        ),
        "discount",
    )
    assert_refused(shop(runner, "create-agent", "LOST", "Lost", "--parent", "NOPE"), "NOPE")
    assert_refused(shop(runner, "credit-agent", "CORNER", "1000"), "sub-agent", "parent")
    assert ledger_of(corner.id) == []
