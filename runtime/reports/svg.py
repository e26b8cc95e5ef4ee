"""A line chart of a few ``(ts_ns, value)`` series over time, as one SVG string.

Drawn by hand rather than with a plotting library, whose import and rendering cost about
a second of every replay. The output is self-contained (no scripts, no links), its text
escaped, and deterministic: no ids, no dates, every coordinate with one decimal, so the
same run renders the same bytes.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Final, NamedTuple

from atrium.runtime.reports.ticks import value_ticks
from atrium.runtime.reports.timeticks import time_ticks

__all__ = ("HEIGHT", "WIDTH", "Line", "line_chart")

WIDTH: Final = 1000
HEIGHT: Final = 320
#: The plot area; the margins hold the title and legend, the axis labels and tick labels.
LEFT: Final = 80
RIGHT: Final = WIDTH - 16
TOP: Final = 36
BOTTOM: Final = HEIGHT - 34
#: A single point is drawn with this much time either side, so the time axis has a span.
_LONE_POINT_PAD: Final = 60_000_000_000
#: Rough advance of an 11 px sans-serif character: to space the legend's entries and
#: keep the time labels inside the chart.
_CHAR_WIDTH: Final = 6.5


class Line(NamedTuple):
    """One series: its legend label, its points in time order, and its colour."""

    label: str
    points: Sequence[tuple[int, float]]
    colour: str


class _Frame(NamedTuple):
    """Maps a time and a value to a pixel of the plot area."""

    start: int
    end: int
    low: float
    high: float

    def x(self, ts: int) -> float:
        return LEFT + (ts - self.start) / (self.end - self.start) * (RIGHT - LEFT)

    def y(self, value: float) -> float:
        return TOP + (self.high - value) / (self.high - self.low) * (BOTTOM - TOP)


def line_chart(lines: Sequence[Line], title: str, ylabel: str) -> str:
    """The chart, or "" when the lines hold no point; a legend when there are several."""
    points = [point for line in lines for point in line.points]
    if not points:
        return ""
    start, end = min(ts for ts, _ in points), max(ts for ts, _ in points)
    if start == end:
        start, end = start - _LONE_POINT_PAD, end + _LONE_POINT_PAD
    yticks = value_ticks(min(v for _, v in points), max(v for _, v in points))
    xticks = time_ticks(start, end)
    frame = _Frame(start, end, yticks[0][0], yticks[-1][0])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="system-ui,sans-serif" font-size="11" '
        f'fill="#222">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
        f'<text x="{(LEFT + RIGHT) // 2}" y="22" text-anchor="middle" font-size="14">'
        f"{_escape(title)}</text>",
        f'<text transform="translate(16 {(TOP + BOTTOM) // 2}) rotate(-90)" '
        f'text-anchor="middle">{_escape(ylabel)}</text>',
        _grid([frame.x(ts) for ts, _ in xticks], [frame.y(v) for v, _ in yticks]),
        *(_ytick(frame.y(value), label) for value, label in yticks),
        *(_xtick(frame.x(ts), label) for ts, label in xticks),
        *(_trace(line, frame) for line in lines if line.points),
        _legend(lines) if len(lines) > 1 else "",
        "</svg>",
    ]
    return "".join(parts)


def _grid(xs: list[float], ys: list[float]) -> str:
    lines = "".join(f"M{_n(x)} {TOP}V{BOTTOM}" for x in xs)
    lines += "".join(f"M{LEFT} {_n(y)}H{RIGHT}" for y in ys)
    return (
        f'<path d="{lines}" stroke="#e4e4e4" fill="none"/>'
        f'<rect x="{LEFT}" y="{TOP}" width="{RIGHT - LEFT}" height="{BOTTOM - TOP}" '
        f'stroke="#999" fill="none"/>'
    )


def _ytick(y: float, label: str) -> str:
    return f'<text x="{LEFT - 6}" y="{_n(y)}" dy="0.35em" text-anchor="end">{_escape(label)}</text>'


def _xtick(x: float, label: str) -> str:
    # A label centred on a tick near an edge would be cut off: move it just inside.
    half = _CHAR_WIDTH * len(label) / 2
    x = min(max(x, half), WIDTH - half)
    return f'<text x="{_n(x)}" y="{BOTTOM + 16}" text-anchor="middle">{_escape(label)}</text>'


def _trace(line: Line, frame: _Frame) -> str:
    colour = _escape(line.colour)
    if len(line.points) == 1:  # a polyline of one point draws nothing
        ts, value = line.points[0]
        return f'<circle cx="{_n(frame.x(ts))}" cy="{_n(frame.y(value))}" r="2.5" fill="{colour}"/>'
    points = " ".join(f"{_n(frame.x(ts))},{_n(frame.y(value))}" for ts, value in line.points)
    return (
        f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.2" '
        f'stroke-linejoin="round"/>'
    )


def _legend(lines: Sequence[Line]) -> str:
    """Entries side by side above the plot's left corner, clear of the data."""
    entries, x = [], float(LEFT)
    for line in lines:
        entries.append(
            f'<path d="M{_n(x)} 18H{_n(x + 18)}" stroke="{_escape(line.colour)}" stroke-width="2"/>'
            f'<text x="{_n(x + 24)}" y="22">{_escape(line.label)}</text>'
        )
        x += 24 + _CHAR_WIDTH * len(line.label) + 16
    return "".join(entries)


def _n(coordinate: float) -> str:
    return f"{coordinate:.1f}"


def _escape(text: str) -> str:
    return html.escape(text, quote=True)
