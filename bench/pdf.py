"""Voucher PDFs: 10,000 vouchers rendered as A4 sheets and as 80 mm receipts, in vouchers/s.

    .venv/bin/python bench/pdf.py [--count 10000] [--reference-count 1000] [--no-scan]

The renderers draw each QR code with the fast encoder of ``shop/vouchers/pdf.py`` (one path per
symbol). The reference printed beside them is the same layout with reportlab's stock
``QrCodeWidget`` (``_qr_widget``) for a tenth of the vouchers, in the same run. Afterwards the
run checks that the fast encoder's symbols are module for module reportlab's own for the reference
vouchers, and scans the first, middle and last page of both PDFs at 200 dpi with ``pdftoppm`` and
``zbarimg``: every voucher on them must give back its QR address and its serial barcode.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reportlab.graphics.barcode import qrencoder

from shop.vouchers import pdf, symbols
from shop.vouchers.pins import generate_pin, make_serial

GOAL_A4_SECONDS = {10_000: 15.0}
CONTEXT = pdf.PrintContext(shop_name="Wanderdata", base_url="https://shop.example")


def vouchers(count: int, batch: int) -> list[pdf.PrintableVoucher]:
    """Return ``count`` vouchers of one batch, as the shop prints them."""
    return [
        pdf.PrintableVoucher(
            serial=make_serial(batch, position),
            pin=generate_pin(),
            pack_name="Asia 10 GB / 30 days",
            data_mb=10240,
            validity_days=30,
            coverage=("TH", "VN", "MY", "SG", "ID"),
            face_value=2500,
            currency="USD",
            expires_at=datetime(2027, 11, 22, tzinfo=UTC),
            agent_name="Demo Travel Shop Bangkok",
        )
        for position in range(1, count + 1)
    ]


def timed(render, printed, stock_qr: bool) -> tuple[float, bytes]:
    """Render and return (seconds, PDF bytes); with the stock QR widget when ``stock_qr``."""
    started = time.perf_counter()
    if stock_qr:
        with mock.patch.object(symbols, "draw_qr", symbols.draw_qr_widget):
            document = render(printed, CONTEXT)
    else:
        document = render(printed, CONTEXT)
    return time.perf_counter() - started, document


def same_symbols_as_reportlab(printed) -> int:
    """Return how many vouchers' QR symbols differ from reportlab's ``QRCode.make()``."""
    differing = 0
    for voucher in printed:
        url = CONTEXT.qr_url(voucher.serial)
        stock = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
        stock.addData(url)
        stock.make()
        differing += symbols.qr_modules(url) != [[bool(m) for m in row] for row in stock.modules]
    return differing


def scan(document: bytes, pages: list[int], per_page: int, printed) -> tuple[int, int]:
    """Scan ``pages`` of a PDF at 200 dpi; return (codes expected, codes read back correctly)."""
    expected, found = set(), set()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vouchers.pdf"
        path.write_bytes(document)
        for page in pages:
            prefix = Path(tmp) / f"page{page}"
            subprocess.run(
                ["pdftoppm", "-png", "-r", "200", "-f", str(page), "-l", str(page), path, prefix],
                check=True,
                capture_output=True,
            )
            (png,) = Path(tmp).glob(f"page{page}-*.png")
            output = subprocess.run(
                ["zbarimg", "--raw", "-q", png], capture_output=True, text=True
            ).stdout
            found.update(output.splitlines())
            for voucher in printed[(page - 1) * per_page : page * per_page]:
                expected.update((CONTEXT.qr_url(voucher.serial), voucher.serial))
    return len(expected), len(expected & found)


def main() -> None:
    """Parse arguments, run, print the table and the checks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--reference-count", type=int, default=1_000)
    parser.add_argument("--no-scan", action="store_true", help="skip the pdftoppm/zbarimg scan")
    args = parser.parse_args()

    started = time.perf_counter()
    pdf.render_a4_sheets(vouchers(1, 1), CONTEXT)  # loads the fonts once per process
    print(f"first render (loads the fonts): {time.perf_counter() - started:.2f} s")
    printed = vouchers(args.count, 42)
    reference = printed[: args.reference_count]
    formats = [("A4 sheets", pdf.render_a4_sheets, 10), ("receipts", pdf.render_receipts, 1)]
    print(
        f"{'format':<10} {'QR drawing':<18} {'vouchers':>8} {'pages':>6} {'seconds':>8} "
        f"{'vouchers/s':>10} {'KiB/voucher':>11} {'goal s':>7}"
    )
    documents = {}
    for name, render, per_page in formats:
        for label, batch, stock_qr in (
            ("fast, one path", printed, False),
            ("stock QrCodeWidget", reference, True),
        ):
            seconds, document = timed(render, batch, stock_qr)
            goal = GOAL_A4_SECONDS.get(len(batch), "") if per_page == 10 and not stock_qr else ""
            print(
                f"{name:<10} {label:<18} {len(batch):>8} {-(-len(batch) // per_page):>6} "
                f"{seconds:>8.2f} {len(batch) / seconds:>10.0f} "
                f"{len(document) / len(batch) / 1024:>11.2f} {goal:>7}"
            )
            if not stock_qr:
                documents[name] = (document, per_page)
            if goal and seconds > goal:
                print(f"  GOAL MISSED: {seconds:.2f} s > {goal} s")

    differing = same_symbols_as_reportlab(reference)
    print(
        f"QR symbols identical to reportlab's QRCode.make(): "
        f"{len(reference) - differing} of {len(reference)}"
    )
    if args.no_scan:
        return
    if not (shutil.which("pdftoppm") and shutil.which("zbarimg")):
        print("scan skipped: apt-get install poppler-utils zbar-tools")
        return
    for name, (document, per_page) in documents.items():
        last = -(-len(printed) // per_page)
        pages = sorted({1, (last + 1) // 2, last})
        expected, read = scan(document, pages, per_page, printed)
        print(
            f"scan at 200 dpi, {name}, pages {', '.join(map(str, pages))}: "
            f"{read} of {expected} codes (QR addresses and serial barcodes) read back"
        )
        if read != expected:
            raise SystemExit(f"{name}: {expected - read} codes not read back")


if __name__ == "__main__":
    main()
