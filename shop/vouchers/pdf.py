"""Printable PIN vouchers: A4 sheets of ten with cut marks, and 80 mm receipts.

Functions return PDF bytes (a reportlab canvas on a ``BytesIO``); routes only send them. Text is
real text. Latin text uses the PDF standard fonts; Chinese uses the embedded Droid Sans Fallback
subset, so it shows on viewers and printers without CJK fonts. The QR code opens the redeem
page with the serial filled in, never the PIN.
"""

import io
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from urllib.parse import urlencode

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import code128
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as pdf_canvas

from shop.money import format_money
from shop.vouchers.pins import format_pin

CJK_FONT = "DroidSansFallback"
SANS = "Helvetica"
SANS_BOLD = "Helvetica-Bold"
MONO_BOLD = "Courier-Bold"

#: A4 sheet: two columns, five rows of vouchers.
COLUMNS, ROWS = 2, 5
SHEET_MARGIN = 12 * mm
CUT_MARK = 4 * mm
RECEIPT_WIDTH = 80 * mm
RECEIPT_HEIGHT = 135 * mm
DARK = (0.11, 0.13, 0.17)
MUTED = (0.33, 0.36, 0.42)


@dataclass(frozen=True)
class PrintableVoucher:
    """What one printed voucher shows."""

    serial: str
    pin: str
    pack_name: str
    data_mb: int
    validity_days: int
    coverage: tuple[str, ...]
    face_value: int
    currency: str
    expires_at: datetime
    agent_name: str = ""


@dataclass(frozen=True)
class PrintContext:
    """Shop-wide facts printed on every voucher."""

    shop_name: str
    base_url: str

    @property
    def redeem_url(self) -> str:
        """Return the address of the redeem page as printed."""
        return self.base_url.rstrip("/") + "/redeem"

    def qr_url(self, serial: str) -> str:
        """Return the QR code's address: the redeem page with the serial (never the PIN)."""
        return f"{self.redeem_url}?{urlencode({'serial': serial})}"


@cache
def _register_cjk_font() -> str:
    path = resources.files("shop").joinpath("fonts/DroidSansFallbackFull.ttf")
    with resources.as_file(path) as font_file:
        pdfmetrics.registerFont(TTFont(CJK_FONT, str(font_file)))
    return CJK_FONT


def data_label(megabytes: int) -> str:
    """Return "10 GB" or "500 MB" without floating point."""
    if megabytes >= 1024:
        whole, rest = divmod(megabytes, 1024)
        tenths = rest * 10 // 1024
        return f"{whole}.{tenths} GB" if tenths else f"{whole} GB"
    return f"{megabytes} MB"


def _fit(canvas, text: str, font: str, size: float, width: float) -> str:
    """Shorten ``text`` with an ellipsis until it fits ``width``."""
    if canvas.stringWidth(text, font, size) <= width:
        return text
    while text and canvas.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _barcode(canvas, value: str, x: float, y: float, width: float, height: float) -> None:
    barcode = code128.Code128(
        value, barHeight=height, barWidth=0.8, humanReadable=False, quiet=False
    )
    scale = min(1.0, width / barcode.width)
    canvas.saveState()
    canvas.translate(x, y)
    canvas.scale(scale, 1)
    barcode.drawOn(canvas, 0, 0)
    canvas.restoreState()


def _qr(canvas, value: str, x: float, y: float, size: float) -> None:
    widget = QrCodeWidget(value, barLevel="M")
    left, bottom, right, top = widget.getBounds()
    drawing = Drawing(
        size, size, transform=[size / (right - left), 0, 0, size / (top - bottom), 0, 0]
    )
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, x, y)


def _is_cjk(char: str) -> bool:
    return ord(char) >= 0x2E80


def _runs(text: str):
    """Split text into runs of CJK and non-CJK characters (the CJK font has no Latin glyphs)."""
    run, cjk = "", None
    for char in text:
        char_cjk = _is_cjk(char)
        if run and char_cjk != cjk:
            yield run, cjk
            run = ""
        run, cjk = run + char, char_cjk
    if run:
        yield run, cjk


def mixed_width(canvas, text: str, size: float) -> float:
    """Return the width of text set in Helvetica with Chinese in the embedded CJK font."""
    cjk_font = _register_cjk_font()
    return sum(canvas.stringWidth(run, cjk_font if cjk else SANS, size) for run, cjk in _runs(text))


def draw_mixed(canvas, x: float, y: float, text: str, size: float) -> None:
    """Draw text with Latin runs in Helvetica and Chinese runs in the embedded CJK font."""
    cjk_font = _register_cjk_font()
    for run, cjk in _runs(text):
        font = cjk_font if cjk else SANS
        canvas.setFont(font, size)
        canvas.drawString(x, y, run)
        x += canvas.stringWidth(run, font, size)


def _draw_voucher(
    canvas,
    voucher: PrintableVoucher,
    context: PrintContext,
    x: float,
    y: float,
    width: float,
    height: float,
    *,
    qr_beside: bool = True,
) -> None:
    """Draw one voucher in the box whose lower left corner is (x, y)."""
    pad = 4 * mm
    left, right, top = x + pad, x + width - pad, y + height - pad
    inner = width - 2 * pad
    qr_size = 20 * mm if qr_beside else 0
    beside_qr = inner - qr_size - (4 if qr_beside else 0)
    canvas.setFillColorRGB(*DARK)
    canvas.setFont(SANS_BOLD, 10)
    canvas.drawString(left, top - 9, _fit(canvas, context.shop_name, SANS_BOLD, 10, inner / 2))
    if voucher.agent_name:
        canvas.setFont(SANS, 7.5)
        canvas.setFillColorRGB(*MUTED)
        canvas.drawRightString(
            right, top - 8, _fit(canvas, voucher.agent_name, SANS, 7.5, inner / 2 - 4)
        )
    price = format_money(voucher.face_value, voucher.currency, "en")
    canvas.setFillColorRGB(*DARK)
    canvas.setFont(SANS_BOLD, 11)
    name_width = inner - canvas.stringWidth(price, SANS_BOLD, 11) - 6
    canvas.drawString(left, top - 23, _fit(canvas, voucher.pack_name, SANS_BOLD, 11, name_width))
    canvas.drawRightString(right, top - 23, price)
    canvas.setFont(SANS, 8)
    facts = f"{data_label(voucher.data_mb)} · valid {voucher.validity_days} days after redemption"
    canvas.drawString(left, top - 34, _fit(canvas, facts, SANS, 8, inner))
    canvas.setFillColorRGB(*MUTED)
    canvas.setFont(SANS, 7.5)
    coverage = "Coverage: " + (", ".join(voucher.coverage) or "-")
    canvas.drawString(left, top - 44, _fit(canvas, coverage, SANS, 7.5, beside_qr))
    canvas.setFillColorRGB(*DARK)
    canvas.setFont(SANS, 7)
    canvas.drawString(left, top - 56, "PIN")
    canvas.setFont(MONO_BOLD, 14)
    canvas.drawString(left, top - 70, format_pin(voucher.pin))
    canvas.setFont(SANS, 7)
    canvas.drawString(left, top - 81, f"Serial {voucher.serial}")
    canvas.drawString(
        left, top - 90, f"Redeem by {voucher.expires_at.date().isoformat()} (PIN expiry)"
    )
    _barcode(canvas, voucher.serial, left, top - 105, min(beside_qr, 150), 11)
    if qr_beside:
        _qr(canvas, context.qr_url(voucher.serial), right - qr_size, top - 46 - qr_size, qr_size)
    english = f"Redeem at {context.redeem_url} or at the shop counter. One use only."
    chinese = f"请在 {context.redeem_url} 或门店柜台兑换，每个 PIN 码仅可使用一次。"
    size = 6.5 if canvas.stringWidth(english, SANS, 6.5) <= inner else 5.6
    canvas.setFont(SANS, size)
    canvas.drawString(left, y + pad + 9, _fit(canvas, english, SANS, size, inner))
    size = 6.5 if mixed_width(canvas, chinese, 6.5) <= inner else 5.6
    draw_mixed(canvas, left, y + pad, chinese, size)


def _cut_marks(canvas, xs: list[float], ys: list[float]) -> None:
    """Draw short crop marks at every corner of the voucher grid, outside the vouchers."""
    canvas.setLineWidth(0.4)
    canvas.setStrokeColorRGB(*MUTED)
    top, bottom, left, right = max(ys), min(ys), min(xs), max(xs)
    for x in xs:
        canvas.line(x, top + 1.5 * mm, x, top + 1.5 * mm + CUT_MARK)
        canvas.line(x, bottom - 1.5 * mm, x, bottom - 1.5 * mm - CUT_MARK)
    for y in ys:
        canvas.line(left - 1.5 * mm, y, left - 1.5 * mm - CUT_MARK, y)
        canvas.line(right + 1.5 * mm, y, right + 1.5 * mm + CUT_MARK, y)
    for x in xs[1:-1]:
        for y in ys:
            canvas.line(x - 1.5 * mm, y, x + 1.5 * mm, y)
    for y in ys[1:-1]:
        for x in xs:
            canvas.line(x, y - 1.5 * mm, x, y + 1.5 * mm)


def render_a4_sheets(vouchers: list[PrintableVoucher], context: PrintContext) -> bytes:
    """Return an A4 PDF with ten vouchers a page and cut marks."""
    buffer = io.BytesIO()
    canvas = pdf_canvas.Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"{context.shop_name} vouchers")
    canvas.setAuthor(context.shop_name)
    page_width, page_height = A4
    inner = SHEET_MARGIN + CUT_MARK + 2 * mm
    cell_width = (page_width - 2 * inner) / COLUMNS
    cell_height = (page_height - 2 * inner) / ROWS
    xs = [inner + column * cell_width for column in range(COLUMNS + 1)]
    ys = [page_height - inner - row * cell_height for row in range(ROWS + 1)]
    per_page = COLUMNS * ROWS
    for start in range(0, max(len(vouchers), 1), per_page):
        page = vouchers[start : start + per_page]
        for index, voucher in enumerate(page):
            row, column = divmod(index, COLUMNS)
            _draw_voucher(
                canvas, voucher, context, xs[column], ys[row + 1], cell_width, cell_height
            )
        _cut_marks(canvas, xs, ys)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def render_receipts(vouchers: list[PrintableVoucher], context: PrintContext) -> bytes:
    """Return an 80 mm wide PDF with one voucher per receipt page, for counter printers."""
    buffer = io.BytesIO()
    canvas = pdf_canvas.Canvas(buffer, pagesize=(RECEIPT_WIDTH, RECEIPT_HEIGHT), pageCompression=1)
    canvas.setTitle(f"{context.shop_name} voucher receipts")
    block = 52 * mm
    qr_size = 26 * mm
    for voucher in vouchers:
        _draw_voucher(
            canvas,
            voucher,
            context,
            0,
            RECEIPT_HEIGHT - block,
            RECEIPT_WIDTH,
            block,
            qr_beside=False,
        )
        qr_top = RECEIPT_HEIGHT - block - 2 * mm
        _qr(
            canvas,
            context.qr_url(voucher.serial),
            (RECEIPT_WIDTH - qr_size) / 2,
            qr_top - qr_size,
            qr_size,
        )
        y = qr_top - qr_size - 5 * mm
        canvas.setFillColorRGB(*DARK)
        for line in (
            "How to redeem:",
            "1. Scan the QR code or open the redeem page.",
            "2. Type the PIN and your card number (ICCID) or phone number.",
            "3. The data is added at once; validity starts on redemption.",
            "兑换方法：",
            "1. 扫描二维码或打开兑换页面。",
            "2. 输入 PIN 码和卡号（ICCID）或手机号码。",
            "3. 流量立即到账，有效期自兑换之日起计算。",
        ):
            draw_mixed(canvas, 4 * mm, y, line, 7)
            y -= 10
        canvas.setFont(SANS, 6.5)
        canvas.setFillColorRGB(*MUTED)
        canvas.drawString(
            4 * mm, 5 * mm, "Keep this receipt. The PIN works once; treat it like cash."
        )
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def printable(issued, product, agent_name: str = "") -> PrintableVoucher:
    """Return what to print for a voucher just issued (``batches.IssuedVoucher``) of ``product``."""
    return PrintableVoucher(
        serial=issued.serial,
        pin=issued.pin,
        pack_name=product.name,
        data_mb=product.data_mb,
        validity_days=product.validity_days,
        coverage=tuple(product.coverage),
        face_value=issued.face_value,
        currency=issued.currency,
        expires_at=issued.expires_at,
        agent_name=agent_name,
    )


def print_context(config) -> PrintContext:
    """Return the shop-wide print facts from the app's configuration."""
    return PrintContext(shop_name=config["SHOP_NAME"], base_url=config["SHOP_BASE_URL"])
