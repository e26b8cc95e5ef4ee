"""The report's hand-drawn SVG line chart: pixel mapping, degenerate input, determinism,
escaping and self-containment.

Plot area (svg.py): x 80..984, y 36..286. Coordinates are worked out by hand.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from atrium.runtime.reports.svg import Line, line_chart

T0 = int(datetime(2024, 3, 15, 14, 0, tzinfo=UTC).timestamp()) * 1_000_000_000
MINUTE = 60_000_000_000


def _points_attr(svg: str) -> list[str]:
    return re.findall(r'<polyline points="([^"]*)"', svg)


def test_line_chart_when_small_series_then_points_mapped_to_exact_pixels() -> None:
    # Values 0..100 give ticks 0, 20, ..., 100: y = 36 + (100 - v) / 100 * 250.
    # Times span 60 minutes: x = 80 + minutes / 60 * 904.
    svg = line_chart(
        [Line("equity", [(T0, 0.0), (T0 + 15 * MINUTE, 25.0), (T0 + 60 * MINUTE, 100.0)], "#123")],
        "Equity",
        "equity",
    )
    assert _points_attr(svg) == ["80.0,286.0 306.0,223.5 984.0,36.0"]
    assert 'stroke="#123"' in svg
    assert '<text x="74" y="186.0" dy="0.35em" text-anchor="end">40</text>' in svg
    # An hour is under 8 x 10 minutes: ticks every 10 minutes, 904 / 6 px apart.
    assert '<text x="80.0" y="302" text-anchor="middle">15 Mar 2024 14:00</text>' in svg
    assert '<text x="230.7" y="302" text-anchor="middle">14:10</text>' in svg
    assert '<text x="833.3" y="302" text-anchor="middle">14:50</text>' in svg


def test_line_chart_when_one_point_then_a_dot_in_the_middle() -> None:
    # Flat 5 is padded to 4.75..5.25, ticked 4.7..5.3; the time axis a minute either side.
    svg = line_chart([Line("equity", [(T0, 5.0)], "#123")], "Equity", "equity")
    assert '<circle cx="532.0" cy="161.0" r="2.5" fill="#123"/>' in svg
    assert "<polyline" not in svg
    assert "nan" not in svg
    assert "inf" not in svg


def test_line_chart_when_a_time_label_would_cross_the_right_edge_then_moved_inside() -> None:
    # Two minutes, ticked every 30 s: the last tick, 14:01:00, is at the plot's right edge
    # (984); 8 characters of about 6.5 px need 26 px either side, so it is centred at 974.
    svg = line_chart(
        [Line("equity", [(T0 - MINUTE, 1.0), (T0 + MINUTE, 2.0)], "#123")], "Equity", "equity"
    )
    assert '<text x="974.0" y="302" text-anchor="middle">14:01:00</text>' in svg
    assert '<text x="80.0" y="302" text-anchor="middle">15 Mar 2024 13:59:00</text>' in svg


def test_line_chart_when_all_values_equal_then_a_level_line_mid_height() -> None:
    # Flat 7 is padded to 6.65..7.35, ticked 6.6..7.4 in steps of 0.2.
    svg = line_chart(
        [Line("equity", [(T0, 7.0), (T0 + 60 * MINUTE, 7.0)], "#123")], "Equity", "equity"
    )
    assert _points_attr(svg) == ["80.0,161.0 984.0,161.0"]
    assert [label for label in re.findall(r'text-anchor="end">([^<]*)<', svg)] == [
        "6.6",
        "6.8",
        "7.0",
        "7.2",
        "7.4",
    ]


def test_line_chart_when_no_points_then_no_chart() -> None:
    assert line_chart([Line("equity", [], "#123")], "Equity", "equity") == ""


def test_line_chart_when_same_input_twice_then_same_bytes() -> None:
    def chart() -> str:
        points = [(T0 + n * MINUTE, 100.0 + (n * 37 % 11) / 3) for n in range(500)]
        lines = [Line("gross exposure", points, "#2ca02c"), Line("limit", points[::-1], "#777")]
        return line_chart(lines, "Gross exposure", "exposure")

    first = chart()
    assert chart() == first
    # Fixed decimals: every coordinate of a polyline has exactly one.
    coordinates = " ".join(_points_attr(first)).replace(",", " ").split()
    assert len(coordinates) == 2 * 2 * 500
    assert all(re.fullmatch(r"\d+\.\d", c) for c in coordinates)


def test_line_chart_when_several_lines_then_a_legend_and_one_polyline_each() -> None:
    points = [(T0, 1.0), (T0 + MINUTE, 2.0)]
    lines = [Line("exposure", points, "#2ca02c"), Line("cap", points, "#777")]
    two = line_chart(lines, "Exposure", "units")
    one = line_chart(lines[:1], "Exposure", "units")
    assert len(_points_attr(two)) == 2
    assert ">exposure</text>" in two
    assert ">cap</text>" in two
    assert ">exposure</text>" not in one


def test_line_chart_when_text_has_markup_then_escaped() -> None:
    points = [(T0, 1.0), (T0 + MINUTE, 2.0)]
    lines = [Line("a<b", points, "#123"), Line("c&d", points, "#456")]
    svg = line_chart(lines, 'P&L <net> "x"', "<%>")
    assert ">P&amp;L &lt;net&gt; &quot;x&quot;</text>" in svg
    assert ">&lt;%&gt;</text>" in svg
    assert ">a&lt;b</text>" in svg
    assert ">c&amp;d</text>" in svg
    assert "<net>" not in svg
    assert "<%>" not in svg


def test_line_chart_then_self_contained_and_scalable() -> None:
    svg = line_chart([Line("equity", [(T0, 1.0), (T0 + MINUTE, 2.0)], "#123")], "E", "e")
    assert svg.startswith(
        '<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="320" viewBox="0 0 1000 320"'
    )
    assert svg.endswith("</svg>")
    assert "<script" not in svg
    assert svg.count("http") == 1  # the namespace, a name rather than a fetch
    assert "href" not in svg
