"""A real job worker process for tests: the product's own ``flask --app wsgi jobs worker``."""

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import TEST_SECRETS

ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    """One worker on the test app's database and queue; its output goes to a file.

    ``settings`` names further settings of the app passed on to it (as text), ``extra`` adds
    literal environment values.
    """

    def __init__(self, app, settings: tuple[str, ...] = (), extra: dict | None = None):
        config = app.config
        env = {
            **os.environ,
            "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
            "JOBS_URL": config["JOBS_URL"],
            "JOBS_POLL_SECONDS": "0.1",
            **{name: str(config[name]) for name in settings},
            **(extra or {}),
            **TEST_SECRETS,
        }
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker"]
            + ["--workers", "1", "--no-periodic"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        """Return the end of what the worker printed."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def kill(self) -> None:
        """Kill the worker as a crash would (SIGKILL)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the worker if it still runs (SIGTERM, then SIGKILL)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
