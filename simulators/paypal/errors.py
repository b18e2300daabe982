"""PayPal's error answers, shared by the simulator's state and its request checks."""

import secrets


class SimulatorError(Exception):
    """A PayPal-shaped error answer: HTTP status, ``name``, message and details."""

    def __init__(self, status: int, name: str, message: str, details=None):
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message
        self.details = details or []

    def body(self) -> dict:
        """Return PayPal's error body."""
        return {
            "name": self.name,
            "message": self.message,
            "details": self.details,
            "debug_id": secrets.token_hex(6),
            "information_link": "https://developer.paypal.com/docs/api/payments/v1/#errors",
        }
