"""The one table `make bench` ends with: every figure that has a target, its baseline, ratio and verdict.

Each bench module calls `record(...)` for the figures an issue sets a target on (and may record figures
without a target, as information); `tests/bench/__main__.py` prints the table once every module has run.
A figure is either a ratio to a baseline measured in the same run (`baseline` given: the ratio is
value / baseline) or an absolute figure (latency, memory) compared with its target as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Figure", "figures", "record", "render", "reset"]


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure: `value` (median over rounds) and its range, against a baseline and a target."""

    name: str
    value: float
    unit: str
    low: float | None = None  # the range over rounds, when there were rounds
    high: float | None = None
    baseline: float | None = None  # same unit as value, measured in the same run
    baseline_name: str = ""
    target: float | None = None  # on the ratio when there is a baseline, else on the value
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.value / self.baseline

    @property
    def compared(self) -> float:
        ratio = self.ratio
        return self.value if ratio is None else ratio

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.compared >= self.target if self.higher_is_better else self.compared <= self.target


_FIGURES: list[Figure] = []


def record(figure: Figure) -> Figure:
    """Keep a figure for the summary table (and return it, so a bench can print it too)."""
    _FIGURES.append(figure)
    return figure


def figures() -> list[Figure]:
    return list(_FIGURES)


def reset() -> None:
    _FIGURES.clear()


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def render(rows: list[Figure]) -> str:
    """The summary table as text: figure, value (range), baseline, ratio, target, verdict."""
    header = ("figure", "value (range)", "baseline", "ratio", "target", "met")
    lines: list[tuple[str, ...]] = [header]
    for f in rows:
        spread = f" ({_number(f.low)}–{_number(f.high)})" if f.low is not None and f.high is not None else ""
        baseline = f"{_number(f.baseline, f.unit)} {f.baseline_name}".strip() if f.baseline is not None else "-"
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
        sign = ">=" if f.higher_is_better else "<="
        target = "-" if f.target is None else f"{sign} {f.target:g}{'x' if f.baseline is not None else ' ' + f.unit}"
        verdict = {None: "info", True: "yes", False: "NO"}[f.met]
        lines.append((f.name, _number(f.value, f.unit) + spread, baseline, ratio, target, verdict))
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in lines)
