"""CPU per request of each process in the redemption benchmark: where the two cores go.

    .venv/bin/python bench/redeem_cpu.py [--backend sqlite|postgresql] [--seconds 6]

The same set-up as ``bench/redeem.py`` (a fresh database, gunicorn with 2 sync workers, wrk
``-t2 -c4`` with ``bench/redeem.lua``), then the bare endpoint served the same way. For each, the
CPU seconds (user + system, from ``/proc/PID/stat``) that the gunicorn workers, wrk and, on
PostgreSQL, the shop's server backends used while wrk ran, divided by the requests answered. On
a machine whose cores are all busy, throughput is the cores divided by the CPU one request costs
all the processes together, so the ratio of these sums is what the benchmark's ratio tends to.
Linux only; the PostgreSQL backends are found by their database name (``BENCH_DATABASE``).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_DATABASE, ROOT, SECRETS, gunicorn  # noqa: E402
from bench.redeem import prepare  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU seconds of a process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def pids(pattern: str) -> list[int]:
    """Return the ids of the processes whose command line matches ``pattern``."""
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


def measure(base: str, path: str, script: list[str] | None, seconds: int) -> dict:
    """Run wrk on ``base + path``; return req/s, p99 and CPU microseconds per request."""
    port = base.rsplit(":", 1)[1]
    server = sorted(pids(f"bind 127.0.0.1:{port}"))
    workers = server[1:]  # the first is the arbiter
    command = ["wrk", "-t2", "-c4", f"-d{seconds}s", "--latency"]
    command += ["-s", script[0], base + path, "--", *script[1:]] if script else [base + path]
    before = {pid: cpu_seconds(pid) for pid in workers}
    load = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    backends = pids(f"postgres: .*{BENCH_DATABASE}")
    before.update({pid: cpu_seconds(pid) for pid in backends})
    wrk_seconds = 0.0
    while load.poll() is None:
        wrk_seconds = max(wrk_seconds, cpu_seconds(load.pid))
        time.sleep(0.05)
    output = load.stdout.read()
    requests = int(re.search(r"(\d+) requests in", output).group(1))

    def per_request(group: list[int]) -> float:
        return sum(cpu_seconds(pid) - before[pid] for pid in group) / requests * 1e6

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p99": re.search(r"99%\s+(\S+)", output).group(1),
        "workers": per_request(workers),
        "wrk": wrk_seconds / requests * 1e6,
        "database": per_request(backends),
    }


def main() -> None:
    """Measure the redemption and the bare endpoint; print CPU per request."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url, pin_file = prepare(args.backend, workdir, 20_000)
        env = {"DATABASE_URL": url, "RATELIMIT_ENABLED": "0", **SECRETS}
        script = [str(ROOT / "bench" / "redeem.lua"), str(pin_file), "2"]
        with gunicorn("wsgi:app", env, workers=2, threads=1, probe="/api/v1/products") as base:
            shop = measure(base, "/api/v1/redemptions", script, args.seconds)
        with gunicorn("bench.bare_app:app", {}, workers=2, threads=1, probe="/ok") as base:
            bare = measure(base, "/ok", None, args.seconds)
    print(f"{args.backend}; CPU microseconds per request; load {os.getloadavg()[0]:.1f}")
    print(
        f"{'endpoint':<12} {'req/s':>7} {'p99':>9} {'workers':>8} {'wrk':>6} "
        f"{'database':>9} {'sum':>6}"
    )
    for name, figures in (("redemption", shop), ("bare", bare)):
        total = figures["workers"] + figures["wrk"] + figures["database"]
        print(
            f"{name:<12} {figures['rps']:>7.0f} {figures['p99']:>9} {figures['workers']:>8.0f} "
            f"{figures['wrk']:>6.0f} {figures['database']:>9.0f} {total:>6.0f}"
        )


if __name__ == "__main__":
    main()
