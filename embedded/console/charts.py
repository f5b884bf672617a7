"""Bar charts as SVG geometry computed on the server: no charting script, readable without JavaScript.

`bar_chart` turns labelled series into rectangles in a fixed viewBox; the template draws them with
a <title> per bar (a tooltip, and text for screen readers) and a table holds the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Bar", "BarChart", "bar_chart"]

WIDTH = 720
HEIGHT = 200
_TOP = 10
_BOTTOM = 24
_LEFT = 40


@dataclass(frozen=True, slots=True)
class Bar:
    """One rectangle: which series, where, and the text its tooltip says."""

    series: str
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    bars: list[Bar]
    max_value: int
    ticks: list[tuple[float, str]]  # x position, label (a few, so they do not overlap)
    series: list[str]
    labels: list[str]
    values: dict[str, list[int]]
    first_colour: int = 0  # the palette index of the first series (bad rows start at red)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = _LEFT
    top: int = _TOP
    baseline: float = HEIGHT - _BOTTOM


def bar_chart(labels: list[str], series: dict[str, list[int]], *, title: str, first_colour: int = 0) -> BarChart:
    """Stacked bars, one per label, the series stacked in the order given."""
    plot_h = HEIGHT - _TOP - _BOTTOM
    plot_w = WIDTH - _LEFT - 8
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = max([*totals, 1])
    slot = plot_w / max(len(labels), 1)
    bars: list[Bar] = []
    for i, label in enumerate(labels):
        y = float(HEIGHT - _BOTTOM)
        for name, values in series.items():
            value = values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            y -= h
            bars.append(
                Bar(name, _LEFT + i * slot + slot * 0.1, y, max(slot * 0.8, 1.0), h, f"{label}: {value} {name}")
            )
    step = max(1, len(labels) // 6)
    ticks = [(_LEFT + i * slot + slot / 2, labels[i]) for i in range(0, len(labels), step)]
    return BarChart(title, bars, top, ticks, list(series), labels, series, first_colour)
