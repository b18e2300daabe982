"""Failure switches: what the next calls of a simulator do instead of the happy path.

A test or a demo queues a :class:`Scenario` ("the next execute is declined", "the next two
calls take 3 s", "the next create fails with a 500"); each matching call uses one up. A
provider's state inherits :class:`ScenarioSwitches` and names its operations and outcomes.
"""

import threading
from dataclasses import dataclass

#: Outcomes every simulator plays the same way: a 500 from the provider, or a slow answer.
COMMON_OUTCOMES = ("error", "delay")


@dataclass
class Scenario:
    """What the next ``count`` matching calls do (optionally only for one payment)."""

    operation: str
    outcome: str
    count: int = 1
    seconds: float = 0.0
    payment_id: str | None = None

    def matches(self, operation: str, payment_id: str | None) -> bool:
        """Tell whether this scenario applies to a call."""
        if self.operation not in ("any", operation):
            return False
        return self.payment_id is None or self.payment_id == payment_id


class ScenarioSwitches:
    """Queued scenarios and the log of calls, behind the state's lock."""

    #: Operation names a scenario may target ("any" matches every one).
    OPERATIONS: tuple[str, ...] = ("any",)
    #: Outcomes a scenario may name.
    OUTCOMES: tuple[str, ...] = COMMON_OUTCOMES

    def __init__(self):
        self.lock = threading.RLock()
        self.scenarios: list[Scenario] = []
        self.calls: list[tuple[str, str | None]] = []

    def add_scenario(self, scenario: Scenario) -> None:
        """Queue a scenario (checked in the order added)."""
        if scenario.operation not in self.OPERATIONS or scenario.outcome not in self.OUTCOMES:
            raise ValueError("unknown operation or outcome")
        if scenario.count < 1 or scenario.seconds < 0:
            raise ValueError("count must be at least 1 and seconds not negative")
        with self.lock:
            self.scenarios.append(scenario)

    def clear_scenarios(self) -> None:
        """Drop every queued scenario."""
        with self.lock:
            self.scenarios.clear()

    def take_scenario(self, operation: str, payment_id: str | None = None) -> Scenario | None:
        """Log the call, use up one call of the first scenario that applies, and return it."""
        with self.lock:
            self.calls.append((operation, payment_id))
            for scenario in self.scenarios:
                if scenario.matches(operation, payment_id):
                    scenario.count -= 1
                    if scenario.count <= 0:
                        self.scenarios.remove(scenario)
                    return scenario
        return None


def scenario_from_json(data: dict) -> Scenario:
    """Build a scenario from a control request's JSON; raise ValueError or TypeError."""
    return Scenario(
        operation=str(data.get("operation", "any")),
        outcome=str(data.get("outcome", "")),
        count=int(data.get("count", 1)),
        seconds=float(data.get("seconds", 0)),
        payment_id=data.get("payment_id"),
    )
