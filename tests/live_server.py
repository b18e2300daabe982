"""A real gunicorn server on a free loopback port, for tests that need HTTP from outside.

Used by the cross-worker rate-limit test and by the browser tests. The server runs the
production entry point (``wsgi:app``), so it reads its settings from the environment only.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRETS

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    """A gunicorn process serving the shop; ``base_url`` is where it answers."""

    database_url: str
    environment: dict = field(default_factory=dict)
    workers: int = 1
    threads: int = 4
    ready_path: str = "/api/v1/products"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    #: The server's output goes to a file, not a pipe: a pipe nobody reads fills up and blocks it.
    log: object = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "LiveServer":
        """Start gunicorn and wait until it answers ``ready_path`` (fail the test otherwise)."""
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": TEST_SECRETS["SECRET_KEY"],
            "PIN_HMAC_KEY": TEST_SECRETS["PIN_HMAC_KEY"],
            "PIN_ENCRYPTION_KEYS": TEST_SECRETS["PIN_ENCRYPTION_KEYS"],
            **self.environment,
        }
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(self.workers),
                "--threads",
                str(self.threads),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base_url + self.ready_path, timeout=2).read()
                return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.2)
        self.process.kill()
        self.process.wait(timeout=10)
        output = self.output()[-2000:]
        self.log.close()
        pytest.fail("gunicorn did not start: " + output)

    def output(self) -> str:
        """Return what the server printed so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        """Stop the server and close its log."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()
        self.process = None
