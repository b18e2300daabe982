"""The sales report as PDF: header, totals, a bar chart by day, tables by pack, staff and day.

Returns bytes (a reportlab canvas on a ``BytesIO``); the route only sends them. Fonts are the
embedded ones of the voucher PDFs, so agent, staff and pack names in Chinese render everywhere.
"""

import io
from datetime import datetime

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as pdf_canvas

from shop.money import format_money
from shop.reports.charts import bar_chart, daily_chart
from shop.reports.queries import SalesReport
from shop.vouchers.pdf import SANS, SANS_BOLD, draw_mixed, mixed_width, register_fonts

MARGIN = 18 * mm
DARK = (0.11, 0.13, 0.17)
MUTED = (0.33, 0.36, 0.42)
BAR = (0.16, 0.39, 0.71)
VOID = (0.70, 0.20, 0.20)
ROW = 5.2 * mm


class _Page:
    """A canvas with a cursor that starts a new page when the next block does not fit."""

    def __init__(self, canvas, title: str):
        self.canvas = canvas
        self.title = title
        self.width, self.height = A4
        self.y = self.height - MARGIN
        self.number = 1

    def need(self, height: float) -> None:
        if self.y - height < MARGIN:
            self.canvas.showPage()
            self.number += 1
            self.y = self.height - MARGIN
            self.canvas.setFillColorRGB(*MUTED)
            draw_mixed(self.canvas, MARGIN, self.y - 8, f"{self.title} ({self.number})", 8)
            self.y -= 18

    def text(self, x: float, text: str, size: float = 9, color=DARK) -> None:
        self.canvas.setFillColorRGB(*color)
        draw_mixed(self.canvas, x, self.y, text, size)

    def right(self, x: float, text: str, size: float = 9) -> None:
        self.canvas.setFillColorRGB(*DARK)
        draw_mixed(self.canvas, x - mixed_width(self.canvas, text, size), self.y, text, size)

    def heading(self, text: str) -> None:
        self.need(16 * mm)
        self.y -= 8 * mm
        self.canvas.setFillColorRGB(*DARK)
        self.canvas.setFont(SANS_BOLD, 11)
        self.canvas.drawString(MARGIN, self.y, text)
        self.y -= 2 * mm


def _table(page: _Page, header: list[str], rows: list[list[str]]) -> None:
    """Draw a table: the first column left-aligned, the others right-aligned numbers."""
    right_edges = [page.width - MARGIN - step * 28 * mm for step in range(len(header) - 2, -1, -1)]
    first_width = right_edges[0] - 28 * mm - MARGIN if len(header) > 1 else 100 * mm

    def line(cells: list[str], color=DARK, size=8.5) -> None:
        page.need(ROW)
        page.y -= ROW
        label = cells[0]
        while label and mixed_width(page.canvas, label, size) > first_width:
            label = label[:-1]
        page.text(MARGIN, label, size, color)
        for edge, cell in zip(right_edges, cells[1:], strict=True):
            page.right(edge, cell, size)

    line(header, MUTED, 8)
    page.canvas.setStrokeColorRGB(*MUTED)
    page.canvas.line(MARGIN, page.y - 1.5 * mm, page.width - MARGIN, page.y - 1.5 * mm)
    for row in rows:
        line(row)


def _chart(page: _Page, chart, color=BAR, *, every_label: bool = False) -> None:
    """Draw a bar chart's geometry below the cursor (chart units are points)."""
    page.need(chart.height + 6 * mm)
    top = page.y - 4 * mm
    canvas = page.canvas
    canvas.setFillColorRGB(*color)
    for bar in chart.bars:
        if bar.height:
            canvas.rect(
                MARGIN + bar.x, top - bar.y - bar.height, bar.width, bar.height, stroke=0, fill=1
            )
    canvas.setStrokeColorRGB(*MUTED)
    canvas.line(MARGIN, top - chart.baseline, MARGIN + chart.width, top - chart.baseline)
    canvas.setFillColorRGB(*MUTED)
    if chart.bars:
        for bar in chart.bars if every_label else (chart.bars[0], chart.bars[-1]):
            draw_mixed(canvas, MARGIN + bar.x, top - chart.baseline - 10, bar.label, 7)
    page.y = top - chart.height


def render_sales_report(
    report: SalesReport, *, shop_name: str, scope_label: str, generated_at: datetime
) -> bytes:
    """Return the PDF of a sales report."""
    buffer = io.BytesIO()
    register_fonts()
    canvas = pdf_canvas.Canvas(buffer, pagesize=A4, pageCompression=1, initialFontName=SANS)
    period = report.period
    title = f"{shop_name} · Sales report · {scope_label}"
    canvas.setTitle(title)
    page = _Page(canvas, title)

    def money(amount: int) -> str:
        return format_money(amount, report.currency, "en")

    canvas.setFillColorRGB(*DARK)
    canvas.setFont(SANS_BOLD, 16)
    canvas.drawString(MARGIN, page.y - 14, "Sales report")
    page.y -= 34
    page.text(MARGIN, scope_label, 12)
    page.y -= 16
    page.text(
        MARGIN,
        f"{period.first.isoformat()} to {period.last.isoformat()} ({period.zone.key}), "
        f"{report.currency}",
        10,
        MUTED,
    )
    page.y -= 12
    page.text(MARGIN, f"Generated {generated_at:%Y-%m-%d %H:%M} UTC by {shop_name}", 8, MUTED)

    totals = report.totals
    page.heading("Totals")
    rate = report.redemption_rate_bps
    _table(
        page,
        ["", "Sales", "Face value", "Cost", "Margin"],
        [
            [
                "All sales",
                str(totals.count),
                money(totals.face_value),
                money(totals.cost),
                money(totals.margin),
            ],
            *(
                [
                    f"  {kind}",
                    str(figures.count),
                    money(figures.face_value),
                    money(figures.cost),
                    money(figures.margin),
                ]
                for kind, figures in report.by_kind.items()
            ),
            [
                "Voided (not counted)",
                str(report.voids.count),
                money(report.voids.face_value),
                money(report.voids.cost),
                "",
            ],
        ],
    )
    page.need(ROW)
    page.y -= ROW + 2
    page.text(
        MARGIN,
        "Redemption rate of sold vouchers: "
        + (f"{rate // 100}.{rate % 100:02d} %" if rate is not None else "none sold")
        + f" ({report.vouchers_redeemed} of {report.vouchers_sold})",
        9,
    )

    chart_width = page.width - 2 * MARGIN
    page.heading("Sales by day (face value)")
    daily = daily_chart(report, width=chart_width, height=60 * mm)
    page.y -= 10
    page.text(MARGIN, f"highest day {money(daily.max_value)}", 7, MUTED)
    _chart(page, daily)

    page.heading("By pack")
    if report.by_product:
        _chart(
            page,
            bar_chart(
                [(line.code, line.figures.face_value) for line in report.by_product],
                width=min(chart_width, 24 * mm * len(report.by_product)),
                height=35 * mm,
            ),
            every_label=True,
        )
    _table(
        page, ["Pack", "Sales", "Face value", "Cost", "Margin"], _lines(report.by_product, money)
    )

    if report.by_agent:
        page.heading("By agent")
        _table(
            page, ["Agent", "Sales", "Face value", "Cost", "Margin"], _lines(report.by_agent, money)
        )
    if report.earnings:
        page.heading("Earnings per level")
        rows = [
            [
                f"{line.level} · {line.agent_code} {line.agent_name}",
                str(line.sales),
                money(line.amount),
            ]
            for line in report.earnings
        ]
        if report.operator_net is not None:
            rows.append(["0 · Operator (net)", "", money(report.operator_net)])
        _table(page, ["Level · agent", "Sales", "Earned"], rows)
    page.heading("By staff member")
    _table(
        page,
        ["Staff", "Sales", "Face value", "Cost", "Margin"],
        _lines(report.by_staff, money, "API"),
    )
    page.heading("By day")
    _table(page, ["Day", "Sales", "Face value", "Cost", "Margin"], _lines(report.by_day, money))
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _lines(lines, money, blank: str = "") -> list[list[str]]:
    rows = []
    for line in lines:
        label = f"{line.code} {line.label}".strip() if line.code else (line.label or blank)
        figures = line.figures
        rows.append(
            [
                label,
                str(figures.count),
                money(figures.face_value),
                money(figures.cost),
                money(figures.margin),
            ]
        )
    return rows
