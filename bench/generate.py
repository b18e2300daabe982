"""Voucher generation: 100,000 PINs generated, hashed, encrypted and stored, with peak memory.

    .venv/bin/python bench/generate.py [--backend sqlite|postgresql|both] [--count 100000]

Each run happens in a fresh child process on a fresh database, so the peak resident memory it
reports belongs to that run alone. A run of a tenth of the size is measured beside it: when the
writes are streamed in chunks, the two peaks stay close (memory flat). The reference printed
with it, in the same process, is the plain way of drawing as many 15-digit PIN bodies:
``secrets.randbelow(10**15)`` once per voucher, no check digit, nothing stored. It tells how
fast this machine is at the moment of the run.
"""

import argparse
import json
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GOALS = {"sqlite": 2.5, "postgresql": 4.0}


def child(backend: str, count: int) -> None:
    """Generate ``count`` vouchers on a fresh database and print the figures as JSON."""
    from flask_migrate import upgrade

    from bench.common import database_url, make_app
    from shop.catalog.services import ProductData, create_product
    from shop.extensions import db
    from shop.vouchers.batches import generate_batch

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        app = make_app(database_url(backend, workdir), workdir)
        with app.app_context():
            upgrade()
            product = create_product(
                ProductData(
                    sku="BENCH-1GB", name="Bench", data_mb=1024, validity_days=30, price=500
                )
            )
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.perf_counter()
            generate_batch(product, count)
            elapsed = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            stored = db.session.execute(db.text("SELECT count(*) FROM voucher")).scalar_one()
            started = time.perf_counter()
            for _ in range(count):
                secrets.randbelow(10**15)
            bare = time.perf_counter() - started
            db.engine.dispose()
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "stored": stored,
                "peak_kib": peak,
                "before_kib": before,
                "randbelow_seconds": bare,
            }
        )
    )


def measure(backend: str, count: int) -> dict:
    """Run one generation in a child process and return its figures."""
    output = subprocess.run(
        [sys.executable, __file__, "--child", backend, "--count", str(count)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    """Parse arguments, run, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--child", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.child:
        child(args.child, args.count)
        return
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(
        f"{'backend':<11} {'vouchers':>9} {'seconds':>8} {'per s':>8} {'peak MiB':>9} "
        f"{'randbelow s':>12} {'goal s':>7}"
    )
    for backend in backends:
        for count in (args.count // 10, args.count):
            result = measure(backend, count)
            assert result["stored"] == count, result
            print(
                f"{backend:<11} {count:>9} {result['seconds']:>8.2f} "
                f"{count / result['seconds']:>8.0f} "
                f"{result['peak_kib'] / 1024:>9.1f} {result['randbelow_seconds']:>12.2f} "
                f"{GOALS[backend] if count == args.count else '':>7}"
            )


if __name__ == "__main__":
    main()
