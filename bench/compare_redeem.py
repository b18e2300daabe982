"""Redemption of this code against an earlier commit's, in-process, alternating rounds.

    .venv/bin/python bench/compare_redeem.py --old-commit 0cfbd47 [--backend postgresql]

The earlier commit's ``shop/vouchers/services.py`` and ``redemption_sql.py`` are loaded beside
today's (``git show``), on one fresh database as ``bench/redeem.py`` makes it. Each round,
each version redeems its own share of distinct PINs from ``--threads`` threads (as many
workers), one version after the other, so a change in the machine's load hits both alike.
Printed: redemptions/s per round and the medians.
"""

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, make_app  # noqa: E402
from bench.redeem import prepare  # noqa: E402


def load_old(commit: str, folder: Path):
    """Return the earlier commit's voucher services, wired to its own redemption SQL."""

    def load(name: str, path: str):
        target = folder / f"{name}.py"
        target.write_text(
            subprocess.run(
                ["git", "show", f"{commit}:{path}"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        spec = importlib.util.spec_from_file_location(name, target)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    old_sql = load("old_redemption_sql", "shop/vouchers/redemption_sql.py")
    old_services = load("old_services", "shop/vouchers/services.py")
    old_services.redemption_sql = old_sql
    return old_services


def main() -> None:
    """Prepare, alternate, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-commit", required=True)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--per-round", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from shop.audit.services import Actor
    from shop.extensions import db
    from shop.vouchers import services as new_services

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        versions = {"this code": new_services, args.old_commit: load_old(args.old_commit, workdir)}
        url, pin_file = prepare(args.backend, workdir, args.rounds * args.per_round * 2 + 10)
        app = make_app(url, workdir)
        plan = [line.split(",") for line in pin_file.read_text().splitlines()]
        rates: dict[str, list[float]] = {name: [] for name in versions}
        for round_number in range(args.rounds):
            for name, module in versions.items():
                share, plan = plan[: args.per_round], plan[args.per_round :]

                def redeem(items, module=module):
                    with app.app_context():
                        for pin, card in items:
                            module.redeem_voucher(
                                pin, card, channel="api", actor=Actor(label="bench", ip_address="")
                            )
                        db.session.remove()

                workers = [
                    threading.Thread(target=redeem, args=(share[n :: args.threads],))
                    for n in range(args.threads)
                ]
                started = time.perf_counter()
                for worker in workers:
                    worker.start()
                for worker in workers:
                    worker.join()
                rates[name].append(len(share) / (time.perf_counter() - started))
                print(f"round {round_number + 1} {name:<10} {rates[name][-1]:8.0f}/s", flush=True)
        with app.app_context():
            db.engine.dispose()
    for name, values in rates.items():
        print(f"{name:<10} median {statistics.median(values):.0f}/s")


if __name__ == "__main__":
    main()
