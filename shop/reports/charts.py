"""Bar charts as geometry: the dashboard draws them as SVG, the PDF report on its canvas.

Coordinates are in chart units with the origin at the top left (SVG's way); the PDF flips them.
Heights are proportional to face value; values themselves stay integer minor units.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    """One bar: its box, the value it shows and its label."""

    x: float
    y: float
    width: float
    height: float
    value: int
    label: str


@dataclass(frozen=True)
class BarChart:
    """Bars over a baseline, with the largest value for the axis label."""

    width: float
    height: float
    baseline: float
    bars: list[Bar]
    max_value: int


def bar_chart(points: list[tuple[str, int]], width: float = 600, height: float = 180) -> BarChart:
    """Return vertical bars for ``(label, value)`` points, scaled to the largest value."""
    top, bottom = 10.0, 20.0
    plot = height - top - bottom
    largest = max((value for _, value in points), default=0)
    slot = width / max(len(points), 1)
    gap = min(slot * 0.2, 4.0)
    bars = []
    for index, (label, value) in enumerate(points):
        bar_height = plot * value / largest if largest else 0.0
        bars.append(
            Bar(
                x=index * slot + gap / 2,
                y=top + plot - bar_height,
                width=slot - gap,
                height=bar_height,
                value=value,
                label=label,
            )
        )
    return BarChart(width, height, top + plot, bars, largest)


def daily_chart(report, width: float = 600, height: float = 180) -> BarChart:
    """Return the chart of a sales report's face value by day."""
    return bar_chart(
        [(line.label, line.figures.face_value) for line in report.by_day], width, height
    )
