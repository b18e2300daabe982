"""Job queue: time from enqueue to the start of a task, and throughput of a trivial task.

    .venv/bin/python bench/jobs.py [--samples 200] [--tasks 2000] [--queues sqlite,redis]

For each queue a real consumer (``flask --app wsgi jobs worker --workers 1``) runs beside the
benchmark. The trivial task is the shop's own ``ping``: it stores how long it waited, which is
the enqueue-to-start delay. Latency: ``--samples`` pings one at a time (each waits for the
previous one to start), p50 and p95. Throughput: ``--tasks`` pings queued at once, timed from
the first enqueue until all have run (the producer's side included). Beside them, in the same
run, the same figures for a plain call of the same function (``queue_delay``): what the queue
costs on top of doing the work inline. "enqueue µs" is what queueing one task costs the
process that queues it (a request).
Redis is ``BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``; the queue's keys are flushed).
"""

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, SECRETS, make_app

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


def percentile(values: list[float], share: float) -> float:
    """Return the value below which ``share`` of ``values`` lie."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def start_worker(jobs_url: str, database_url: str) -> subprocess.Popen:
    """Start the product's job worker on ``jobs_url``."""
    env = {**os.environ, **SECRETS, "JOBS_URL": jobs_url, "DATABASE_URL": database_url}
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker", "--workers", "1"]
        + ["--no-periodic"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(huey, key: str, timeout: float = 60.0):
    """Return the value a worker stored under ``key`` (looking is a read; then popped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if huey.get(key, peek=True) is not None:
            return huey.get(key)
        time.sleep(0.0005)
    raise TimeoutError(f"no worker answered {key}")


def wait_for_all(huey, count: int, timeout: float = 600.0) -> None:
    """Wait until ``count`` answers are stored (one read every 5 ms, not one per answer)."""
    deadline = time.monotonic() + timeout
    while huey.storage.result_store_size() < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {huey.storage.result_store_size()} of {count} answers")
        time.sleep(0.005)


def measure_queue(huey, ping, ping_key, samples: int, tasks: int) -> dict:
    """Return latency (s) and throughput (tasks/s) through the running worker."""
    wait_for(huey, ping_key(_send(ping)), timeout=60)  # the worker is up
    delays = [wait_for(huey, ping_key(_send(ping))) for _ in range(samples)]
    tokens = [secrets.token_hex(8) for _ in range(tasks)]
    started = time.perf_counter()
    for token in tokens:
        ping(time.time(), token)
    enqueued = time.perf_counter() - started
    wait_for_all(huey, tasks)
    elapsed = time.perf_counter() - started
    return {
        "p50": statistics.median(delays),
        "p95": percentile(delays, 0.95),
        "throughput": tasks / elapsed,
        "enqueue": enqueued / tasks,
    }


def _send(ping) -> str:
    token = secrets.token_hex(8)
    ping(time.time(), token)
    return token


def measure_plain_call(queue_delay, samples: int, tasks: int) -> dict:
    """Return the same figures for calling the task's function directly."""
    delays = [queue_delay(time.time()) for _ in range(samples)]
    started = time.perf_counter()
    for _ in range(tasks):
        queue_delay(time.time())
    elapsed = time.perf_counter() - started
    return {
        "p50": statistics.median(delays),
        "p95": percentile(delays, 0.95),
        "throughput": tasks / elapsed,
        "enqueue": 0.0,
    }


def main() -> None:
    """Run the benchmark and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--queues", default="sqlite,redis")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    database_url = f"sqlite:///{workdir / 'shop.db'}"
    queues = {
        "sqlite": f"sqlite:///{workdir / 'queue.db'}",
        "redis": REDIS_URL,
    }
    rows = []
    for name in args.queues.split(","):
        app = make_app(database_url, workdir, JOBS_URL=queues[name])
        from shop.jobs.queue import huey
        from shop.jobs.tasks import ping, ping_key, queue_delay

        with app.app_context():
            huey.flush()
            worker = start_worker(queues[name], database_url)
            try:
                queued = measure_queue(huey, ping, ping_key, args.samples, args.tasks)
            finally:
                worker.terminate()
                worker.wait(timeout=30)
            huey.flush()
            plain = measure_plain_call(queue_delay, args.samples, args.tasks)
        rows.append((f"{name} queue, 1 worker", queued))
        rows.append((f"plain call (same run as {name})", plain))

    print(f"{'':34} {'p50 µs':>10} {'p95 µs':>10} {'tasks/s':>10} {'enqueue µs':>11}")
    for label, figures in rows:
        print(
            f"{label:34} {figures['p50'] * 1e6:10.1f} {figures['p95'] * 1e6:10.1f} "
            f"{figures['throughput']:10.0f} {figures['enqueue'] * 1e6:11.0f}"
        )


if __name__ == "__main__":
    main()
