"""Printed vouchers: read back as text and rendered to PNG, as a printer or viewer would."""

import io
from datetime import UTC, datetime

import pypdf
import pypdfium2 as pdfium
import pytest
from reportlab.lib.units import mm

from shop.vouchers.pdf import PrintableVoucher, PrintContext, render_a4_sheets, render_receipts
from shop.vouchers.pins import format_pin, generate_pin, make_serial
from tests.factories import make_agent, make_product

CONTEXT = PrintContext(shop_name="Wanderdata", base_url="https://shop.example")


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


def test_chinese_instructions_are_real_text_in_an_embedded_font():
    pdf = render_a4_sheets(vouchers(1), CONTEXT)
    assert "兑换" in text_of(pdf)[0]
    assert any("DroidSansFallback" in name for name in embedded_font_names(pdf))
    page_text = pdfium.PdfDocument(pdf)[0].get_textpage().get_text_range()
    assert "每个" in page_text


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
