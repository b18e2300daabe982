"""Printable PIN vouchers: A4 sheets of ten with cut marks, and 80 mm receipts.

A voucher is printed in the language of whoever prints it (``PrintContext.locale``: the
counter's or buyer's page language), with its labels from the shop's message catalog. The
redeem help (the footer and a receipt's steps) follows in the shop's other languages too
(``PrintContext.help_locales``): the traveller holding the voucher may not read the clerk's.

Functions return PDF bytes (a reportlab canvas on a ``BytesIO``); routes only send them. Text is
real text, and every font is embedded (a subset of the TrueType files in ``shop/fonts``): DejaVu
Sans for Latin text, DejaVu Sans Mono Bold for the PIN, Droid Sans Fallback for Chinese. So the
PDFs look the same on every viewer and printer, with or without fonts of their own. The QR code
opens the redeem page with the serial filled in, never the PIN.

QR codes and barcodes are drawn by ``shop.vouchers.symbols``.
"""

import io
import math
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from importlib import resources
from urllib.parse import urlencode

from flask import has_request_context
from flask_babel import force_locale, get_locale, gettext
from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as pdf_canvas

from shop.money import format_money
from shop.vouchers import symbols
from shop.vouchers.pins import format_pin

# Page streams are Flate-compressed binary, without reportlab's default ASCII85 layer on top: that
# is a pure-Python pass over every page (30 % of the rendering time) for 25 % bigger streams.
# reportlab has only this process-wide switch; any other PDF it makes only gets smaller for it.
rl_config.useA85 = 0

CJK_FONT = "DroidSansFallback"
SANS = "DejaVuSans"
SANS_BOLD = "DejaVuSans-Bold"
MONO_BOLD = "DejaVuSansMono-Bold"
#: Font name -> TrueType file in ``shop/fonts`` (licences in ``shop/fonts/README.md``).
FONT_FILES = {
    SANS: "DejaVuSans.ttf",
    SANS_BOLD: "DejaVuSans-Bold.ttf",
    MONO_BOLD: "DejaVuSansMono-Bold.ttf",
    CJK_FONT: "DroidSansFallbackFull.ttf",
}

#: A4 sheet: two columns, five rows of vouchers.
COLUMNS, ROWS = 2, 5
SHEET_MARGIN = 12 * mm
CUT_MARK = 4 * mm
RECEIPT_WIDTH = 80 * mm
RECEIPT_HEIGHT = 135 * mm
DARK = (0.11, 0.13, 0.17)
MUTED = (0.33, 0.36, 0.42)


def _receipt_instructions_text() -> tuple[str, ...]:
    """Return the receipt's redeem steps in the current language."""
    return (
        gettext("How to redeem:"),
        gettext("1. Scan the QR code or open the redeem page."),
        gettext("2. Type the PIN and your card number (ICCID) or phone number."),
        gettext("3. The data is added at once; validity starts on redemption."),
    )


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
    #: The language of the labels (a locale of ``LANGUAGES``: ``en`` or ``zh_Hans_CN``).
    locale: str = "en"
    #: Further languages the redeem help is printed in, after ``locale``.
    help_locales: tuple[str, ...] = ()

    @property
    def languages(self) -> tuple[str, ...]:
        """Return the voucher's language, then the redeem help's other languages."""
        return (self.locale, *self.help_locales)

    @property
    def redeem_url(self) -> str:
        """Return the address of the redeem page as printed."""
        return self.base_url.rstrip("/") + "/redeem"

    def qr_url(self, serial: str) -> str:
        """Return the QR code's address: the redeem page with the serial (never the PIN)."""
        return f"{self.redeem_url}?{urlencode({'serial': serial})}"


# --- Text ----------------------------------------------------------------------------------------


@cache
def register_fonts() -> None:
    """Register the embedded TrueType fonts of ``FONT_FILES`` with reportlab, once."""
    folder = resources.files("shop").joinpath("fonts")
    for name, filename in FONT_FILES.items():
        with resources.as_file(folder.joinpath(filename)) as font_file:
            pdfmetrics.registerFont(TTFont(name, str(font_file)))


def _new_canvas(buffer, pagesize) -> pdf_canvas.Canvas:
    """Return a canvas whose every font is one of the embedded ones (no standard PDF font)."""
    register_fonts()
    return pdf_canvas.Canvas(buffer, pagesize=pagesize, pageCompression=1, initialFontName=SANS)


def data_label(megabytes: int) -> str:
    """Return "10 GB" or "500 MB" without floating point."""
    if megabytes >= 1024:
        whole, rest = divmod(megabytes, 1024)
        tenths = rest * 10 // 1024
        return f"{whole}.{tenths} GB" if tenths else f"{whole} GB"
    return f"{megabytes} MB"


@lru_cache(maxsize=4096)
def _width(text: str, font: str, size: float) -> float:
    """Return the width of ``text`` (never a PIN: the cache would keep it) in ``font``."""
    return pdfmetrics.stringWidth(text, font, size)


@lru_cache(maxsize=1024)
def _fit(text: str, font: str, size: float, width: float) -> str:
    """Shorten ``text`` with an ellipsis until it fits ``width``."""
    if _width(text, font, size) <= width:
        return text
    while text and _width(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


_SCRIPT_RUN = re.compile(r"[\u2e80-\U0010ffff]+|[^\u2e80-\U0010ffff]+")


def _runs(text: str) -> list[tuple[str, bool]]:
    """Split text into runs of CJK and non-CJK characters (the CJK font has no Latin glyphs)."""
    return [(run, run[0] >= "\u2e80") for run in _SCRIPT_RUN.findall(text)]


def mixed_width(canvas, text: str, size: float) -> float:
    """Return the width of text set in DejaVu Sans with Chinese in the embedded CJK font."""
    register_fonts()
    return _mixed_width(text, size)


def _mixed_width(text: str, size: float) -> float:
    return sum(_width(run, CJK_FONT if cjk else SANS, size) for run, cjk in _runs(text))


@lru_cache(maxsize=256)
def _fit_mixed(text: str, size: float, width: float) -> str:
    """Shorten mixed Latin and Chinese text with an ellipsis until it fits ``width``."""
    if _mixed_width(text, size) <= width:
        return text
    while text and _mixed_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def draw_mixed(canvas, x: float, y: float, text: str, size: float) -> None:
    """Draw text with Latin runs in DejaVu Sans and Chinese runs in the embedded CJK font.

    Not for PINs: the widths of the runs are cached.
    """
    register_fonts()
    for run, cjk in _runs(text):
        font = CJK_FONT if cjk else SANS
        canvas.setFont(font, size)
        canvas.drawString(x, y, run)
        x += _width(run, font, size)


def wrap_mixed(text: str, size: float, width: float, later_width: float | None = None) -> list[str]:
    """Break text into lines no wider than ``width`` (``later_width`` after the first line).

    Lines break at spaces, and between any two Chinese characters.
    """
    register_fonts()
    lines, line = [], ""
    for word in re.findall(r"[^\s\u2e80-\U0010ffff]+\s*|[\u2e80-\U0010ffff]\s*|\s+", text):
        limit = width if not lines or later_width is None else later_width
        if line.strip() and _mixed_width((line + word).rstrip(), size) > limit:
            lines.append(line.rstrip())
            line = word.lstrip()
        else:
            line += word
    return [*lines, line.rstrip()]


@lru_cache(maxsize=256)
def _price(amount: int, currency: str, locale: str) -> str:
    return format_money(amount, currency, locale)


# --- Layout --------------------------------------------------------------------------------------


def _draw_voucher(
    canvas,
    voucher: PrintableVoucher,
    context: PrintContext,
    x: float,
    y: float,
    width: float,
    height: float,
    *,
    footers: tuple[str, ...],
    qr_beside: bool = True,
) -> None:
    """Draw one voucher in the box whose lower left corner is (x, y); ``footers``: ``_footers``."""
    pad = 4 * mm
    left, right, top = x + pad, x + width - pad, y + height - pad
    inner = width - 2 * pad
    qr_size = 20 * mm if qr_beside else 0
    beside_qr = inner - qr_size - (4 if qr_beside else 0)
    canvas.setFillColorRGB(*DARK)
    canvas.setFont(SANS_BOLD, 10)
    shop_name = _fit(context.shop_name, SANS_BOLD, 10, inner / 2)
    canvas.drawString(left, top - 9, shop_name)
    if voucher.agent_name:
        canvas.setFont(SANS, 7.5)
        canvas.setFillColorRGB(*MUTED)
        agent_width = inner - _width(shop_name, SANS_BOLD, 10) - 8
        canvas.drawRightString(right, top - 8, _fit(voucher.agent_name, SANS, 7.5, agent_width))
    price = _price(voucher.face_value, voucher.currency, context.locale)
    canvas.setFillColorRGB(*DARK)
    canvas.setFont(SANS_BOLD, 11)
    name_width = inner - _width(price, SANS_BOLD, 11) - 6
    canvas.drawString(left, top - 23, _fit(voucher.pack_name, SANS_BOLD, 11, name_width))
    canvas.drawRightString(right, top - 23, price)
    facts = gettext(
        "%(data)s · valid %(days)d days after redemption",
        data=data_label(voucher.data_mb),
        days=voucher.validity_days,
    )
    draw_mixed(canvas, left, top - 34, _fit_mixed(facts, 8, inner), 8)
    canvas.setFillColorRGB(*MUTED)
    coverage = gettext("Coverage: %(regions)s", regions=", ".join(voucher.coverage) or "-")
    draw_mixed(canvas, left, top - 44, _fit_mixed(coverage, 7.5, beside_qr), 7.5)
    canvas.setFillColorRGB(*DARK)
    draw_mixed(canvas, left, top - 56, gettext("PIN"), 7)
    pin = format_pin(voucher.pin)
    pin_size = min(14, 14 * beside_qr / _width("0" * len(pin), MONO_BOLD, 14))  # monospaced
    canvas.setFont(MONO_BOLD, pin_size)
    canvas.drawString(left, top - 70, pin)
    draw_mixed(canvas, left, top - 81, gettext("Serial %(serial)s", serial=voucher.serial), 7)
    redeem_by = gettext(
        "Redeem by %(date)s (PIN expiry)", date=voucher.expires_at.date().isoformat()
    )
    draw_mixed(canvas, left, top - 90, redeem_by, 7)
    # The left padding (4 mm) is wider than the barcode's quiet zone; keep one on the right too.
    quiet = symbols.BARCODE_QUIET_ZONE * symbols.BARCODE_MODULE
    symbols.draw_barcode(canvas, voucher.serial, left, top - 106, beside_qr - quiet, 12)
    if qr_beside:
        symbols.draw_qr(
            canvas, context.qr_url(voucher.serial), right - qr_size, top - 46 - qr_size, qr_size
        )
    size = _footer_size(footers, inner)
    line_y = y + pad + (4 if len(footers) == 1 else 9)
    for footer in footers:
        draw_mixed(canvas, left, line_y, _fit_mixed(footer, size, inner), size)
        line_y -= 9


def _footers(context: PrintContext) -> tuple[str, ...]:
    """Return the footer's redeem line in the voucher's language and its first help language."""
    return _in_each_language(
        context,
        lambda: gettext(
            "Redeem at %(url)s or at the shop counter. One use only.", url=context.redeem_url
        ),
    )[:2]


def _in_each_language(context: PrintContext, text) -> tuple[str, ...]:
    """Return ``text()`` in the voucher's language, then in each of its help languages."""
    texts = [text()]
    for locale in context.help_locales:
        with force_locale(locale):
            texts.append(text())
    return tuple(texts)


@lru_cache(maxsize=64)
def _footer_size(footers: tuple[str, ...], width: float) -> float:
    """Return the size, 6.5 pt or less (not under 4.5 pt), at which every footer line fits."""
    widest = max(_mixed_width(footer, 6.5) for footer in footers)
    return max(4.5, min(6.5, math.floor(6.5 * width / widest * 20) / 20))


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


def render_a4_sheets(
    vouchers: list[PrintableVoucher], context: PrintContext, progress=None
) -> bytes:
    """Return an A4 PDF with ten vouchers a page and cut marks; ``progress(done)`` per page."""
    buffer = io.BytesIO()
    canvas = _new_canvas(buffer, A4)
    with force_locale(context.locale):
        _draw_a4_sheets(canvas, vouchers, context, progress)
    canvas.save()
    return buffer.getvalue()


def _draw_a4_sheets(canvas, vouchers, context, progress) -> None:
    canvas.setTitle(f"{context.shop_name} vouchers")
    canvas.setAuthor(context.shop_name)
    page_width, page_height = A4
    inner = SHEET_MARGIN + CUT_MARK + 2 * mm
    cell_width = (page_width - 2 * inner) / COLUMNS
    cell_height = (page_height - 2 * inner) / ROWS
    xs = [inner + column * cell_width for column in range(COLUMNS + 1)]
    ys = [page_height - inner - row * cell_height for row in range(ROWS + 1)]
    per_page = COLUMNS * ROWS
    footers = _footers(context)
    for start in range(0, max(len(vouchers), 1), per_page):
        page = vouchers[start : start + per_page]
        for index, voucher in enumerate(page):
            row, column = divmod(index, COLUMNS)
            _draw_voucher(
                canvas,
                voucher,
                context,
                xs[column],
                ys[row + 1],
                cell_width,
                cell_height,
                footers=footers,
            )
        _cut_marks(canvas, xs, ys)
        canvas.showPage()
        if progress is not None:
            progress(min(start + per_page, len(vouchers)))


@lru_cache(maxsize=16)
def _receipt_instructions(steps: tuple[str, ...]) -> tuple[tuple[float, str], ...]:
    """Return the receipt's redeem steps as (indent, line), wrapped to the receipt's width.

    A numbered step that needs a second line continues under the step's text. Cached by the
    steps' own text, so a language's lines can never be served for another.
    """
    width, lines = RECEIPT_WIDTH - 8 * mm, []
    for item in steps:
        number = re.match(r"\d+\. ", item)
        indent = _mixed_width(number.group(), 7) if number else 0
        for index, line in enumerate(wrap_mixed(item, 7, width, width - indent)):
            lines.append((indent if index else 0, line))
    return tuple(lines)


def render_receipts(
    vouchers: list[PrintableVoucher], context: PrintContext, progress=None
) -> bytes:
    """Return an 80 mm wide PDF with one voucher per receipt page, for counter printers."""
    buffer = io.BytesIO()
    canvas = _new_canvas(buffer, (RECEIPT_WIDTH, RECEIPT_HEIGHT))
    with force_locale(context.locale):
        _draw_receipts(canvas, vouchers, context, progress)
    canvas.save()
    return buffer.getvalue()


def _draw_receipts(canvas, vouchers, context, progress) -> None:
    canvas.setTitle(f"{context.shop_name} voucher receipts")
    block = 52 * mm
    qr_size = 26 * mm
    in_each_language = _in_each_language(context, _receipt_instructions_text)
    steps = _receipt_instructions(tuple(step for steps in in_each_language for step in steps))
    footers = _footers(context)
    for done, voucher in enumerate(vouchers, start=1):
        _draw_voucher(
            canvas,
            voucher,
            context,
            0,
            RECEIPT_HEIGHT - block,
            RECEIPT_WIDTH,
            block,
            footers=footers,
            qr_beside=False,
        )
        qr_top = RECEIPT_HEIGHT - block - 2 * mm
        symbols.draw_qr(
            canvas,
            context.qr_url(voucher.serial),
            (RECEIPT_WIDTH - qr_size) / 2,
            qr_top - qr_size,
            qr_size,
        )
        y = qr_top - qr_size - 5 * mm
        canvas.setFillColorRGB(*DARK)
        for indent, line in steps:
            draw_mixed(canvas, 4 * mm + indent, y, line, 7)
            y -= 10
        canvas.setFillColorRGB(*MUTED)
        keep = gettext("Keep this receipt. The PIN works once; treat it like cash.")
        draw_mixed(canvas, 4 * mm, 5 * mm, _fit_mixed(keep, 6.5, RECEIPT_WIDTH - 8 * mm), 6.5)
        canvas.showPage()
        if progress is not None:
            progress(done)


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


def print_context(config, locale: str | None = None) -> PrintContext:
    """Return the print facts: the app's configuration, and the language of the page asking.

    Without a request (the command line) and without ``locale``, vouchers print in the default
    language.
    """
    if locale is None:
        locale = str(get_locale()) if has_request_context() else config["BABEL_DEFAULT_LOCALE"]
    return PrintContext(
        shop_name=config["SHOP_NAME"],
        base_url=config["SHOP_BASE_URL"],
        locale=locale,
        help_locales=tuple(other for other in config["LANGUAGES"] if other != locale),
    )
