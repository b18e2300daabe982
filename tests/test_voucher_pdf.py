"""Printed vouchers: read back as text and rendered to PNG, as a printer or viewer would.

The scanner tests render pages with ``pdftoppm`` (poppler-utils) and decode them with ``zbarimg``
(zbar-tools): skipped when those are missing, except under ``CI``, where they fail.
"""

import io
import os
import random
import shutil
import string
import subprocess
from datetime import UTC, datetime

import pypdf
import pypdfium2 as pdfium
import pytest
from reportlab.graphics.barcode import qrencoder
from reportlab.lib.units import mm

from shop.vouchers.pdf import PrintableVoucher, PrintContext, render_a4_sheets, render_receipts
from shop.vouchers.pins import format_pin, generate_pin, make_serial
from shop.vouchers.symbols import qr_modules
from tests.factories import make_agent, make_product

CONTEXT = PrintContext(shop_name="Wanderdata", base_url="https://shop.example")
CHINESE = PrintContext(shop_name="Wanderdata", base_url="https://shop.example", locale="zh_Hans_CN")


@pytest.fixture(scope="module")
def babel_app(tmp_path_factory):
    """An app context for the shop's message catalog (no database is touched)."""
    from shop import create_app
    from tests.conftest import make_config

    folder = tmp_path_factory.mktemp("pdf-i18n")
    app = create_app(make_config(f"sqlite:///{folder / 'unused.db'}"), instance_path=str(folder))
    with app.app_context():
        yield app


def vouchers(count: int) -> list[PrintableVoucher]:
    return [
        PrintableVoucher(
            serial=make_serial(42, position),
            pin=generate_pin(),
            pack_name="Asia 10 GB / 30 days",
            data_mb=10240,
            validity_days=30,
            coverage=("TH", "VN", "MY"),
            face_value=2500,
            currency="USD",
            expires_at=datetime(2027, 11, 22, tzinfo=UTC),
            agent_name="Demo Travel Shop Bangkok",
        )
        for position in range(1, count + 1)
    ]


def text_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def embedded_font_names(pdf: bytes) -> set[str]:
    names = set()
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                descriptor = descendant.get_object().get("/FontDescriptor")
                if descriptor is not None and "/FontFile2" in descriptor.get_object():
                    names.add(str(font["/BaseFont"]))
    return names


def dark_pixel_share(image) -> float:
    grey = image.convert("L")
    histogram = grey.histogram()
    return sum(histogram[:128]) / (grey.width * grey.height)


def test_a4_sheet_holds_ten_vouchers_a_page_with_every_pin_and_serial_as_text():
    printed = vouchers(23)
    pdf = render_a4_sheets(printed, CONTEXT)
    pages = text_of(pdf)
    assert len(pages) == 3
    text = "\n".join(pages)
    for voucher in printed:
        assert format_pin(voucher.pin) in text
        assert voucher.serial in text
    assert pages[0].count("Serial ") == 10 and pages[2].count("Serial ") == 3
    assert "Asia 10 GB / 30 days" in text and "$25.00" in text
    assert "Redeem by 2027-11-22" in text, "the PIN's shelf life is printed apart from the validity"
    assert "valid 30 days after redemption" in text
    assert "Demo Travel Shop Bangkok" in text


def test_chinese_labels_are_real_text_in_an_embedded_font(babel_app):
    pdf = render_a4_sheets(vouchers(1), CHINESE)
    text = "".join(text_of(pdf)[0].split())  # pypdf breaks lines between Chinese and Latin runs
    assert "序列号" in text and "兑换截止2027-11-22" in text and "兑换后30天内有效" in text
    assert "覆盖范围：TH,VN,MY" in text and "US$25.00" in text
    assert any("DroidSansFallback" in name for name in embedded_font_names(pdf))
    page_text = pdfium.PdfDocument(pdf)[0].get_textpage().get_text_range()
    assert "每个" in page_text


@pytest.mark.parametrize("render", [render_a4_sheets, render_receipts])
def test_the_redeem_help_follows_in_the_other_language_after_the_voucher_language(
    babel_app, render
):
    bilingual = PrintContext(
        shop_name="Wanderdata",
        base_url="https://shop.example",
        locale="en",
        help_locales=("zh_Hans_CN",),
    )
    text = "".join("".join(text_of(render(vouchers(1), bilingual))).split())
    assert "Serial" in text and "序列号" not in text  # the labels: the voucher's language only
    assert text.index("Oneuseonly.") < text.index("每个PIN码仅可使用一次")
    if render is render_receipts:
        assert text.index("Howtoredeem:") < text.index("兑换方法")


@pytest.mark.parametrize("render", [render_a4_sheets, render_receipts])
def test_an_english_voucher_prints_no_chinese_and_a_chinese_one_no_english_label(babel_app, render):
    english = "".join(text_of(render(vouchers(1), CONTEXT)))
    chinese = "".join("".join(text_of(render(vouchers(1), CHINESE))).split())
    assert not any(char >= "\u2e80" for char in english)
    assert "Serial" in english and "One use only" in english
    for label in ("Serial", "Redeem by", "Coverage", "valid", "One use only", "How to", "Keep"):
        assert label.replace(" ", "") not in chinese


def test_a4_page_renders_to_a_png_with_ink_on_it(tmp_path):
    pdf = render_a4_sheets(vouchers(10), CONTEXT)
    image = pdfium.PdfDocument(pdf)[0].render(scale=1.5).to_pil()
    image.save(tmp_path / "sheet.png")
    assert (tmp_path / "sheet.png").stat().st_size > 10_000
    assert abs(image.size[0] - round(595.28 * 1.5)) <= 1, "an A4 page"
    assert 0.02 < dark_pixel_share(image) < 0.5


def test_receipts_are_80_mm_wide_one_voucher_each():
    printed = vouchers(2)
    pdf = render_receipts(printed, CONTEXT)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2
    assert float(reader.pages[0].mediabox.width) == pytest.approx(80 * mm, abs=0.5)
    assert format_pin(printed[1].pin) in reader.pages[1].extract_text()
    image = pdfium.PdfDocument(pdf)[0].render(scale=2).to_pil()
    assert dark_pixel_share(image) > 0.02


def test_qr_code_opens_the_redeem_page_with_the_serial_never_the_pin():
    (voucher,) = vouchers(1)
    url = CONTEXT.qr_url(voucher.serial)
    assert url == f"https://shop.example/redeem?serial={voucher.serial}"
    assert voucher.pin not in url


def test_cli_generate_writes_the_printable_pdf(app, runner, tmp_path):
    make_agent(code="BKK", name="Bangkok Airport Kiosk")
    make_product(sku="JP-3GB", name="Japan 3 GB", data_mb=3072)
    target = tmp_path / "batch.pdf"
    result = runner.invoke(
        args=[
            "vouchers",
            "generate",
            "--sku",
            "JP-3GB",
            "--count",
            "12",
            "--agent",
            "BKK",
            "--pdf",
            str(target),
        ]
    )
    assert result.exit_code == 0, result.output
    pages = text_of(target.read_bytes())
    assert len(pages) == 2
    assert "Japan 3 GB" in pages[0] and "Bangkok Airport Kiosk" in pages[0]


def every_font(pdf: bytes):
    """Yield every font dictionary of every page, with Type0 descendants and form XObjects'."""

    def walk(resources):
        resources = resources.get_object() if resources is not None else {}
        for font in resources.get("/Font", {}).values():
            font = font.get_object()
            yield font
            for descendant in font.get("/DescendantFonts", []):
                yield descendant.get_object()
        for xobject in resources.get("/XObject", {}).values():
            xobject = xobject.get_object()
            if xobject.get("/Subtype") == "/Form":
                yield from walk(xobject.get("/Resources"))

    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        yield from walk(page.get("/Resources"))


def assert_pins_and_serials(pages: list[str], printed: list[PrintableVoucher]) -> None:
    text = "\n".join(pages)
    for voucher in printed:
        pin = format_pin(voucher.pin)
        assert [len(group) for group in pin.split(" ")] == [4, 4, 4, 4]
        assert pin in text
        assert voucher.serial in text


@pytest.mark.parametrize(("count", "pages"), [(1, 1), (10, 1), (11, 2), (95, 10)])
def test_a4_page_count_and_every_pin_and_serial_as_text(count, pages):
    printed = vouchers(count)
    text = text_of(render_a4_sheets(printed, CONTEXT))
    assert len(text) == pages
    assert_pins_and_serials(text, printed)
    assert text[-1].count("Serial ") == count - 10 * (pages - 1)


@pytest.mark.parametrize("count", [1, 11])
def test_receipts_one_page_each_with_its_pin_and_serial(count):
    printed = vouchers(count)
    text = text_of(render_receipts(printed, CONTEXT))
    assert len(text) == count
    assert_pins_and_serials(text, printed)
    for page, voucher in zip(text, printed, strict=True):
        assert format_pin(voucher.pin) in page and voucher.serial in page


@pytest.mark.parametrize("render", [render_a4_sheets, render_receipts])
def test_no_font_is_left_unembedded(babel_app, render):
    pdf = render(vouchers(11), CHINESE)
    fonts = list(every_font(pdf))
    assert fonts
    names = set()
    for font in fonts:
        name, subtype = str(font.get("/BaseFont")), font.get("/Subtype")
        if subtype == "/Type0":
            assert font.get("/DescendantFonts"), f"{name}: Type0 font without descendants"
            continue
        descriptor = font.get("/FontDescriptor")
        assert descriptor is not None, f"{name} ({subtype}) is not embedded: no FontDescriptor"
        descriptor = descriptor.get_object()
        assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor), (
            f"{name} ({subtype}) is not embedded: no font file"
        )
        names.add(name.split("+")[-1])
    assert names == {"DejaVuSans", "DejaVuSans-Bold", "DejaVuSansMono-Bold", "DroidSansFallback"}


def test_qr_matrix_is_reportlabs_own_symbol():
    """The fast encoder gives exactly the modules of reportlab's ``QRCode.make()``."""
    rng = random.Random(20271122)
    alphabets = [
        string.digits,
        string.digits + string.ascii_uppercase + " $%*+-./:",
        string.printable,
        "äé€漢字 ",
    ]
    payloads = [(CONTEXT.qr_url(voucher.serial), "M") for voucher in vouchers(3)]
    for _ in range(60):
        text = "".join(rng.choice(rng.choice(alphabets)) for _ in range(rng.randint(1, 120)))
        payloads.append((text, rng.choice("LMQH")))
    for text, level in payloads:
        stock = qrencoder.QRCode(None, getattr(qrencoder.QRErrorCorrectLevel, level))
        stock.addData(text)
        stock.make()
        assert qr_modules(text, level) == [[bool(m) for m in row] for row in stock.modules], (
            text,
            level,
        )


def require_tools(*tools: str) -> None:
    """Skip (or, under CI, fail) when a command-line tool the test needs is not installed."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        reason = f"{', '.join(missing)} not installed: apt-get install poppler-utils zbar-tools"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def scan_first_page(pdf: bytes, tmp_path) -> list[str]:
    """Render page 1 at 200 dpi with pdftoppm and return what zbarimg decodes on it."""
    require_tools("pdftoppm", "zbarimg")
    pdf_path = tmp_path / "printed.pdf"
    pdf_path.write_bytes(pdf)
    out_prefix = tmp_path / "page"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "200", "-f", "1", "-l", "1", str(pdf_path), str(out_prefix)],
        check=True,
        capture_output=True,
    )
    (png,) = tmp_path.glob("page*.png")
    result = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True, text=True)
    assert result.returncode in (0, 4), result.stderr  # 4: nothing found
    return result.stdout.splitlines()


@pytest.mark.parametrize(
    ("render", "count", "on_first_page"),
    [(render_a4_sheets, 12, 10), (render_receipts, 2, 1)],
)
def test_scanner_reads_every_qr_code_and_barcode_on_a_printed_page(
    render, count, on_first_page, tmp_path
):
    printed = vouchers(count)
    decoded = scan_first_page(render(printed, CONTEXT), tmp_path)
    expected = [CONTEXT.qr_url(voucher.serial) for voucher in printed[:on_first_page]]
    expected += [voucher.serial for voucher in printed[:on_first_page]]
    assert sorted(decoded) == sorted(expected)
