"""QR codes and Code 128 barcodes drawn fast on a reportlab canvas, each as one filled path.

QR codes are encoded with reportlab's own encoder (``reportlab.graphics.barcode.qrencoder``:
data segments, Reed-Solomon blocks, module placement and mask choice) and give exactly the
symbol reportlab's ``QrCodeWidget`` draws, some thirty times faster (``bench/pdf.py``): each
version's layout is worked out once with reportlab and cached, the error correction uses
precomputed products, and the eight candidate masks are scored with reportlab's penalty rules on
whole-matrix integers instead of lists of booleans. A test compares every level and data mode
with reportlab's own ``QRCode.make()``, so a reportlab upgrade that changes its internals fails
loudly rather than printing wrong codes.
"""

import re
from dataclasses import dataclass
from functools import cache, partial
from operator import itemgetter

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import code128, qrencoder
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.pdfgen.pathobject import PDFPathObject

#: QR codes: error correction level M, and the four-module quiet zone ISO/IEC 18004 requires.
QR_LEVEL = "M"
QR_QUIET_ZONE = 4
#: Code 128 narrowest bar (X dimension) in points: 0.8 pt is 0.28 mm, 2.2 pixels at 200 dpi.
BARCODE_MODULE = 0.8
#: Code 128 quiet zone on each side, in modules (the standard asks for ten).
BARCODE_QUIET_ZONE = 10


# --- QR codes ------------------------------------------------------------------------------------
#
# A symbol of n x n modules is held as one integer: row after row, each row followed by one
# light guard bit so that shifts never carry a pattern from one row into the next. The module at
# (row, column) is bit ``n * (n + 1) - 1 - (row * (n + 1) + column)``, so the integer's binary
# string reads like the symbol, and ``x << 1`` / ``x << (n + 1)`` line every module up with its
# right / lower neighbour.

_FINDER_LIKE = "10111010000"  # the one pattern reportlab's penalty rule 3 looks for


@dataclass(frozen=True)
class _QRLayout:
    """What every symbol of one version and error correction level has in common."""

    size: int  # modules per side
    data_cells: int  # modules that carry data and error correction bits
    gather: itemgetter  # picks each matrix character from data bits + "01"
    masks: tuple[int, ...]  # per mask pattern: its dark data modules
    format_bits: tuple[int, ...]  # per mask pattern: format (and version) information modules
    cells: int  # every module (not the guard bits)
    pairs_right: int  # modules with a right neighbour
    pairs_down: int  # modules with a lower neighbour
    finder_starts: int  # where reportlab's rule 3 looks for its pattern


def _level(level: str) -> int:
    return getattr(qrencoder.QRErrorCorrectLevel, level)


@cache
def _qr_layout(version: int, level: int) -> _QRLayout:
    """Work out a version's layout once, with reportlab's own placement code."""
    size = version * 4 + 17
    stride = size + 1
    probe = qrencoder.QRCode(version, level)
    blocks = qrencoder.QRRSBlock.getRSBlocks(version, level)
    probe.dataCache = [0] * sum(block.totalCount for block in blocks)

    def matrix(test: bool, mask: int) -> list[list[bool]]:
        probe.makeImpl(test, mask)  # with all-zero data, data modules show the mask itself
        return [list(row) for row in probe.modules]

    function_only = matrix(True, 0)  # function patterns; format information left light
    data_index = {(row, column): i for i, (column, row) in enumerate(probe.dataPosIterator())}

    def as_int(dark) -> int:
        """Return the symbol integer whose dark modules are those where ``dark(row, column)``."""
        return int(
            "".join(
                "1" if column < size and dark(row, column) else "0"
                for row in range(size)
                for column in range(stride)
            ),
            2,
        )

    gather = []
    for row in range(size):
        for column in range(stride):
            if column == size:
                gather.append(len(data_index))  # the light guard: "0"
            elif (row, column) in data_index:
                gather.append(data_index[row, column])
            else:
                gather.append(len(data_index) + function_only[row][column])
    masks, format_bits = [], []
    for mask in range(8):
        masked, final = matrix(True, mask), matrix(False, mask)
        masks.append(as_int(partial(_is_data_and_dark, data_index, masked)))
        format_bits.append(as_int(partial(_is_changed_function, data_index, function_only, final)))
    return _QRLayout(
        size=size,
        data_cells=len(data_index),
        gather=itemgetter(*gather),
        masks=tuple(masks),
        format_bits=tuple(format_bits),
        cells=as_int(lambda row, column: True),
        pairs_right=as_int(lambda row, column: column < size - 1),
        pairs_down=as_int(lambda row, column: row < size - 1),
        finder_starts=as_int(lambda row, column: column < size - len(_FINDER_LIKE)),
    )


def _is_data_and_dark(data_index, matrix, row: int, column: int) -> bool:
    return (row, column) in data_index and matrix[row][column]


def _is_changed_function(data_index, before, after, row: int, column: int) -> bool:
    return (row, column) not in data_index and before[row][column] != after[row][column]


@cache
def _rs_products(ec_count: int) -> tuple[int, ...]:
    """Return, for every byte f, f times reportlab's generator polynomial (less its leading 1)."""
    exp, log = qrencoder.EXP_TABLE, qrencoder.LOG_TABLE
    generator = qrencoder.QRUtil.getErrorCorrectPolynomial(ec_count).num[1:]
    products = [0]
    for factor in range(1, 256):
        row = bytes(exp[(log[factor] + log[g]) % 255] if g else 0 for g in generator)
        products.append(int.from_bytes(row, "big"))
    return tuple(products)


def _rs_remainder(data: list[int], ec_count: int) -> bytes:
    """Return the Reed-Solomon error correction bytes of one block (polynomial division)."""
    products = _rs_products(ec_count)
    shift, keep = 8 * (ec_count - 1), (1 << 8 * ec_count) - 1
    register = 0
    for byte in data:
        register = ((register << 8) & keep) ^ products[byte ^ (register >> shift)]
    return register.to_bytes(ec_count, "big")


class _BitBuffer:
    """The bit buffer reportlab's data segments write to.

    Like reportlab's ``QRBitBuffer``, but it appends a whole value at a time, not bit by bit.
    """

    def __init__(self) -> None:
        self.value = self.length = 0

    def put(self, number: int, length: int) -> None:
        """Append the ``length`` low bits of ``number``."""
        self.value = (self.value << length) | (number & ((1 << length) - 1))
        self.length += length

    def putBit(self, bit: bool) -> None:  # noqa: N802 - reportlab's name
        """Append one bit."""
        self.put(int(bit), 1)

    def getLengthInBits(self) -> int:  # noqa: N802 - reportlab's name
        """Return how many bits were written."""
        return self.length


def _qr_codewords(version: int, level: int, segments: list) -> bytes:
    """Return the interleaved data and error correction codewords, as reportlab's ``createData``."""
    blocks = qrencoder.QRRSBlock.getRSBlocks(version, level)
    buffer = _BitBuffer()
    for segment in segments:
        segment.write(buffer, version)
    capacity = sum(block.dataCount for block in blocks) * 8
    if buffer.length > capacity:
        raise ValueError(f"QR data too long: {buffer.length} > {capacity} bits")
    if buffer.length + 4 <= capacity:
        buffer.put(0, 4)  # terminator
    buffer.put(0, -buffer.length % 8)
    data = list(buffer.value.to_bytes(buffer.length // 8, "big"))
    data += [qrencoder.QRCode.PAD0, qrencoder.QRCode.PAD1] * (capacity // 16 + 1)
    data = data[: capacity // 8]
    data_blocks, ec_blocks, offset = [], [], 0
    for block in blocks:
        data_blocks.append(data[offset : offset + block.dataCount])
        offset += block.dataCount
        ec_blocks.append(_rs_remainder(data_blocks[-1], block.totalCount - block.dataCount))
    codewords = bytearray()
    for group in (data_blocks, ec_blocks):
        for i in range(max(len(block) for block in group)):
            codewords.extend(block[i] for block in group if i < len(block))
    return bytes(codewords)


def _run_points(symbol: int, step: int, pairs: int) -> tuple[int, int]:
    """Return (modules equal to their neighbour ``step`` bits on, rule 1 points along ``step``)."""
    same = ~(symbol ^ (symbol << step)) & pairs
    five = same & (same << step) & (same << 2 * step) & (same << 3 * step)
    return same, five.bit_count() + 2 * (five & ~(same >> step)).bit_count()


def _lost_points(symbol: int, layout: _QRLayout) -> int:
    """Return reportlab's mask penalty (``QRUtil.getLostPoint``) of a symbol, computed on ints."""
    stride = layout.size + 1
    # Rule 1: every run of five or more same-coloured modules in a row or column scores
    # length - 2 = (number of five-module windows in it) + 2 (once, at the run's start).
    same_right, score_rows = _run_points(symbol, 1, layout.pairs_right)
    same_down, score_columns = _run_points(symbol, stride, layout.pairs_down)
    score = score_rows + score_columns
    # Rule 2: three points for every 2 x 2 block of one colour.
    score += 3 * (same_down & (same_down << 1) & same_right).bit_count()
    # Rule 3: 40 points for 1:1:3:1:1 + four light modules, along rows only (reportlab compares
    # the columns' tuples with a list, which never matches), not at a row's last start.
    match, light = layout.finder_starts, symbol ^ layout.cells
    for i, module in enumerate(_FINDER_LIKE):
        match &= (symbol if module == "1" else light) << i
    score += 40 * match.bit_count()
    # Rule 4: ten points for every 5 % the dark share strays from one half.
    dark = symbol.bit_count()
    return score + 10 * (abs(100 * dark // layout.size**2 - 50) // 5)


def _qr_symbol(value: str, level: str = QR_LEVEL) -> tuple[int, int]:
    """Encode ``value`` and return (modules per side, the symbol as an integer, see above)."""
    code = qrencoder.QRCode(None, _level(level))
    code.addData(value)
    version = code.calculate_version()
    layout = _qr_layout(version, code.errorCorrectLevel)
    codewords = _qr_codewords(version, code.errorCorrectLevel, code.dataList)
    bits = format(int.from_bytes(codewords, "big"), f"0{8 * len(codewords)}b")
    plain = int("".join(layout.gather(bits.ljust(layout.data_cells, "0") + "01")), 2)
    scores = [_lost_points(plain ^ mask, layout) for mask in layout.masks]
    best = scores.index(min(scores))  # the first of equals, as reportlab
    return layout.size, plain ^ layout.masks[best] ^ layout.format_bits[best]


def qr_modules(value: str, level: str = QR_LEVEL) -> list[list[bool]]:
    """Return the QR symbol of ``value`` as rows of booleans (dark), like ``QRCode.modules``."""
    size, symbol = _qr_symbol(value, level)
    text = format(symbol, f"0{size * (size + 1)}b")
    return [
        [char == "1" for char in text[row * (size + 1) : row * (size + 1) + size]]
        for row in range(size)
    ]


_DARK_RUN = re.compile("1+")


def _qr_runs(size: int, symbol: int) -> list[tuple[int, int, int, int]]:
    """Return a (column, row, length, 1) rectangle for every horizontal run of dark modules."""
    stride = size + 1
    return [
        (run.start() % stride, run.start() // stride, run.end() - run.start(), 1)
        for run in _DARK_RUN.finditer(format(symbol, f"0{size * stride}b"))
    ]


class _WholeUnitPath(PDFPathObject):
    """A path of rectangles in whole units (modules), written without float formatting."""

    def rectangles(self, rectangles: list[tuple[int, int, int, int]]) -> None:
        """Add rectangles (x, y, width, height) with integer coordinates to the path."""
        if rectangles:
            self._code_append(" ".join(f"{x} {y} {w} {h} re" for x, y, w, h in rectangles))


def draw_qr(canvas, value: str, x: float, y: float, size: float) -> None:
    """Draw the QR code of ``value``, quiet zone included, in the square (x, y, size)."""
    modules, symbol = _qr_symbol(value)
    module = size / (modules + 2 * QR_QUIET_ZONE)
    path = _WholeUnitPath()
    path.rectangles(_qr_runs(modules, symbol))
    canvas.saveState()
    canvas.setFillColorRGB(0, 0, 0)
    # Module units, rows counted downwards from the symbol's top left corner.
    canvas.translate(x + QR_QUIET_ZONE * module, y + size - QR_QUIET_ZONE * module)
    canvas.scale(module, -module)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()


def draw_qr_widget(canvas, value: str, x: float, y: float, size: float) -> None:
    """Draw the same QR code with reportlab's stock ``QrCodeWidget``.

    Slow (it encodes twice and makes a shape per run of modules): the benchmark's reference, not
    used by the renderers.
    """
    widget = QrCodeWidget(value, barLevel=QR_LEVEL, barBorder=QR_QUIET_ZONE)
    left, bottom, right, top = widget.getBounds()
    drawing = Drawing(
        size, size, transform=[size / (right - left), 0, 0, size / (top - bottom), 0, 0]
    )
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, x, y)


# --- Code 128 ------------------------------------------------------------------------------------


def _code128_modules(value: str) -> tuple[tuple[tuple[int, int], ...], int]:
    """Return the bars of ``value`` as (first module, width) and the total width in modules."""
    barcode = code128.Code128(value, humanReadable=False, quiet=False)
    barcode.validate()
    barcode.encode()
    bars, left = [], 0
    for element in barcode.decompose():
        width = ord(element.lower()) - ord("a") + 1
        if element.isupper():
            bars.append((left, width))
        left += width
    return tuple(bars), left


def draw_barcode(canvas, value: str, x: float, y: float, width: float, height: float) -> None:
    """Draw the Code 128 bars of ``value`` from (x, y), at most ``width`` wide, as one path.

    The caller keeps ``BARCODE_QUIET_ZONE`` modules clear on either side.
    """
    bars, modules = _code128_modules(value)
    module = min(BARCODE_MODULE, width / modules)
    path = _WholeUnitPath()
    path.rectangles([(left, 0, bar_width, 1) for left, bar_width in bars])
    canvas.saveState()
    canvas.setFillColorRGB(0, 0, 0)
    canvas.translate(x, y)
    canvas.scale(module, height)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()
