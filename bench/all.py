"""Every benchmark, briefly, in one table of ratios: ``make bench``.

    .venv/bin/python bench/all.py [--seconds 5] [--only redeem,generate,pdf,report]

Each row is a figure beside its reference measured in the same run on the same machine, and
their ratio, which is what carries from one machine to another (the absolute figures do not).
The runs are shorter than the full benchmarks (see docs/BENCHMARKS.md for those), so ratios
vary more: run it twice before believing a change of 10 %. One to four minutes on 2 cores.

- redeem: redemptions/s through gunicorn against a bare ``return "ok"`` served the same way
  (``bench/redeem.py``), per backend, from a stock of 50,000 vouchers (PostgreSQL's plans
  change with the size of the tables; below some 30,000 a slow plan once went unnoticed). On
  PostgreSQL, a reference of the database itself: the median time of committing a one-row
  write, i.e. of the WAL flush every redemption waits for.
- generate: 100,000 vouchers stored, against drawing as many PIN bodies with ``randbelow``
  (``bench/generate.py``), per backend.
- pdf: 1,000 vouchers as A4 sheets, against 100 with reportlab's stock QR widget (vouchers/s).
- report: one agent's and all agents' monthly report on 100,000 sales, against ``count(*)``.

PostgreSQL runs use the ``BENCH_DATABASE`` and ``BENCH_REPORT_POSTGRES_URL`` databases, which
they drop and create.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

ROWS: list[tuple] = []


def row(benchmark, backend, figure, reference, ratio, goal="") -> None:
    """Add a row to the table and print it at once (a long run shows progress)."""
    ROWS.append((benchmark, backend, figure, reference, ratio, goal))
    print(f"  {benchmark} {backend}: {figure} | {reference} | {ratio} {goal}", flush=True)


def commit_floor_ms(url: str, commits: int = 200) -> float:
    """Return the median milliseconds of committing a one-row write on PostgreSQL."""
    engine = create_engine(url)
    samples = []
    with engine.connect() as connection:
        for _ in range(commits):
            started = time.perf_counter()
            connection.execute(text("SELECT txid_current()"))  # a transaction id: a WAL flush
            connection.commit()
            samples.append(time.perf_counter() - started)
    engine.dispose()
    return statistics.median(samples) * 1000


def bench_redeem(seconds: int) -> None:
    """Redemptions through gunicorn beside the bare endpoint, per backend."""
    from bench import redeem

    args = SimpleNamespace(
        seconds=seconds, workers=2, threads=1, connections=4, wrk_threads=2, vouchers=50_000
    )
    for backend in ("sqlite", "postgresql"):
        result = redeem.run(backend, args)
        shop, bare = result["shop"], result["bare"]
        ratio = shop["rps"] / bare["rps"]
        goal = 0.40 if backend == "sqlite" else 0.30
        row(
            "redeem req/s (p99 ms)",
            backend,
            f"{shop['rps']:,.0f} ({shop['p99']:.1f})",
            f"bare {bare['rps']:,.0f} ({bare['p99']:.1f})",
            f"{ratio:.3f}",
            f">= {goal}, p99 <= 15 ms",
        )
        if backend == "postgresql":
            from bench.common import POSTGRES_ADMIN_URL

            # Two sync workers, each waiting for its own flush, can not do better than this.
            floor = commit_floor_ms(POSTGRES_ADMIN_URL)
            ceiling = 2000 / (floor + 2000 / bare["rps"])
            row(
                "redeem ceiling req/s",
                backend,
                f"{ceiling:,.0f}",
                f"commit {floor:.2f} ms",
                f"{ceiling / bare['rps']:.3f}",
                "2 / (flush + bare's time)",
            )


def bench_generate() -> None:
    """Voucher generation beside randbelow, per backend."""
    from bench import generate

    count = 100_000
    for backend in ("sqlite", "postgresql"):
        result = generate.measure(backend, count)
        assert result["stored"] == count, result
        goal = generate.GOALS[backend] * count / 100_000
        row(
            f"generate {count:,} s (peak MiB)",
            backend,
            f"{result['seconds']:.2f} ({result['peak_kib'] / 1024:.0f})",
            f"randbelow {result['randbelow_seconds']:.3f}",
            f"{result['seconds'] / result['randbelow_seconds']:.1f}",
            f"<= {goal:.2f} s",
        )


def bench_pdf() -> None:
    """A4 voucher sheets with the fast QR code beside reportlab's stock widget."""
    from bench import pdf

    pdf.timed(pdf.pdf.render_a4_sheets, pdf.vouchers(1, 1), False)  # loads the fonts
    printed = pdf.vouchers(1_000, 42)
    fast, _ = pdf.timed(pdf.pdf.render_a4_sheets, printed, False)
    stock, _ = pdf.timed(pdf.pdf.render_a4_sheets, printed[:100], True)
    row(
        "pdf A4 vouchers/s",
        "-",
        f"{1_000 / fast:,.0f}",
        f"stock QR {100 / stock:,.0f}",
        f"{(1_000 / fast) / (100 / stock):.1f}",
        "10,000 in <= 15 s",
    )


def bench_report() -> None:
    """Monthly sales reports beside count(*), per backend."""
    from bench import report

    sales = 100_000
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        for backend in ("sqlite", "postgresql"):
            figures = report.run(backend, sales, Path(tmp))
            for name in ("one agent", "all agents"):
                row(
                    f"report {name} ms, {sales:,} sales",
                    backend,
                    f"{figures[name] * 1000:.1f}",
                    f"count(*) {figures['count(*)'] * 1000:.1f}",
                    f"{figures[name] / figures['count(*)']:.1f}",
                    f"< {report.GOALS[name] * 1000:.0f} ms at 1,000,000",
                )


def main() -> None:
    """Run the chosen benchmarks and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="wrk seconds per endpoint")
    parser.add_argument("--only", default="redeem,generate,pdf,report")
    args = parser.parse_args()
    chosen = args.only.split(",")
    started = time.perf_counter()
    if "redeem" in chosen:
        bench_redeem(args.seconds)
    if "generate" in chosen:
        bench_generate()
    if "pdf" in chosen:
        bench_pdf()
    if "report" in chosen:
        bench_report()
    headers = ("benchmark", "backend", "figure", "reference (same run)", "ratio", "goal")
    widths = [max(len(str(r[i])) for r in [headers, *ROWS]) for i in range(len(headers))]
    print()
    for line in [headers, tuple("-" * w for w in widths), *ROWS]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
