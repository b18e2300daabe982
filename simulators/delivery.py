"""Delivering signed webhooks to the shop, with retries, one by one or all at once."""

import logging
import threading
import time

import requests

log = logging.getLogger(__name__)

#: Pauses between delivery attempts of one webhook (providers retry for days; a demo needs less).
RETRY_PAUSES = (0.2, 0.5, 1.0)
DELIVERY_TIMEOUT = 5.0


def deliver(url: str, headers: dict, body: bytes, pauses=RETRY_PAUSES) -> str:
    """POST one signed event, retrying on failure; return the last status code or error name."""
    outcome = "not sent"
    for pause in (0.0, *pauses):
        time.sleep(pause)
        try:
            response = requests.post(url, data=body, headers=headers, timeout=DELIVERY_TIMEOUT)
        except requests.RequestException as exc:
            outcome = exc.__class__.__name__
            continue
        outcome = str(response.status_code)
        if response.status_code < 500:
            break
    log.info("Simulator webhook to %s: %s", url, outcome)
    return outcome


def deliver_many(url: str, signed: list[tuple[dict, bytes]], concurrent: bool) -> list[str]:
    """Deliver each signed request, all at once (threads behind a barrier) or one by one."""
    if not concurrent:
        return [deliver(url, headers, body) for headers, body in signed]
    outcomes = [""] * len(signed)
    barrier = threading.Barrier(len(signed))

    def send(index, headers, body):
        barrier.wait()
        outcomes[index] = deliver(url, headers, body)

    threads = [
        threading.Thread(target=send, args=(i, h, b), daemon=True)
        for i, (h, b) in enumerate(signed)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
