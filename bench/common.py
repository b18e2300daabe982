"""Shared set-up of the benchmarks: databases, gunicorn servers and wrk runs on 127.0.0.1."""

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
#: The database each PostgreSQL benchmark drops and creates (one name per engineer sharing a host).
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "shop_bench")
SECRETS = {
    "SECRET_KEY": "bench-secret-" + "x" * 32,
    "PIN_HMAC_KEY": "22" * 32,
    "PIN_ENCRYPTION_KEYS": "k1:" + base64.urlsafe_b64encode(b"b" * 32).decode(),
}


def database_url(backend: str, workdir: Path) -> str:
    """Return a fresh, empty database of ``backend`` for a benchmark."""
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{BENCH_DATABASE}"'))
    engine.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + BENCH_DATABASE


def limits_on(redis_url: str) -> dict:
    """Return the settings that turn rate limits on in ``redis_url``, as production runs.

    The per-client route limit is raised so that one load generator on one address is never
    refused; the guess limits stay the shop's own (only failed PINs count).
    """
    return {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": redis_url,
        "REDEEM_REQUESTS_PER_CLIENT": "100000000 per minute",
    }


def make_app(url: str, workdir: Path, **extra):
    """Return the shop app on ``url`` with rate limits off and fixed secrets."""
    from shop import create_app

    config = {"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False, **SECRETS, **extra}
    return create_app(config, instance_path=str(workdir / "instance"))


def free_port() -> int:
    """Return a free TCP port on the loopback interface, from ``BENCH_PORTS`` (``5400-5499``)."""
    first, _, last = os.environ.get("BENCH_PORTS", "0-0").partition("-")
    for port in range(int(first), int(last or first) + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


@contextmanager
def gunicorn(app_spec: str, env: dict, workers: int, threads: int, probe: str):
    """Serve ``app_spec`` with gunicorn on a free loopback port; yield the base URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        app_spec,
    ]
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + probe, timeout=2).read()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError(
                    "server did not start: " + server.stderr.read().decode(errors="replace")
                ) from None
            time.sleep(0.2)
    try:
        yield base
    finally:
        server.terminate()
        server.wait(timeout=15)
        server.stderr.close()


def wrk(
    url: str, seconds: int, connections: int, threads: int, script: list[str] | None = None
) -> dict:
    """Run wrk and return requests/s, p50 and p99 in milliseconds, and non-2xx responses."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        command += ["-s", script[0], url, "--", *script[1:]]
    else:
        command.append(url)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": _milliseconds(re.search(r"50%\s+([\d.]+\w+)", output).group(1)),
        "p99": _milliseconds(re.search(r"99%\s+([\d.]+\w+)", output).group(1)),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "non_2xx": int(m.group(1))
        if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output))
        else 0,
        "socket_errors": (m.group(0) if (m := re.search(r"Socket errors:.*", output)) else ""),
    }


def _milliseconds(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
