"""sweep.html: the points as a sortable table, a heatmap, and the best equity curves.

The heatmap shows the objective over the grid's first two parameters, each cell the best
value over the other parameters; the curves are the equity of the best few points. It is
one self-contained file (inline SVG, a few lines of script to sort), like report.html.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from atrium.config.sweep import GridConfig
from atrium.runtime.reports.svg import Line, line_chart
from atrium.runtime.sweep.equity import read_equity
from atrium.runtime.sweep.points import Outcome
from atrium.runtime.sweep.results import result_rows
from atrium.runtime.sweep.search import objective_of, ranked

__all__ = ("heatmap", "write_sweep_html", "write_walk_forward_html")

_COLOURS: Final = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
_LOW: Final = (230, 124, 115)
_HIGH: Final = (87, 187, 138)
_STYLE: Final = """body{font-family:system-ui,sans-serif;margin:2em}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px}
th{cursor:pointer;background:#f4f4f4}td.num{text-align:right}"""
# Sorts the table by the clicked column: numbers as numbers, blanks last.
_SCRIPT: Final = """document.querySelectorAll('table.sort th').forEach((th,i)=>{
th.onclick=()=>{const b=th.closest('table').tBodies[0],r=[...b.rows],d=th.dataset.d=-(th.dataset.d||-1);
const v=x=>{const t=x.cells[i].textContent,n=parseFloat(t);return t===''?null:isNaN(n)?t:n};
r.sort((x,y)=>{const a=v(x),c=v(y);if(a===null)return 1;if(c===null)return -1;
return (a<c?-1:a>c?1:0)*d});r.forEach(x=>b.appendChild(x))}});"""


def write_sweep_html(
    path: Path, grid: GridConfig, outcomes: Sequence[Outcome], points_dir: Path
) -> None:
    """Write sweep.html for ``outcomes`` (their equity read from ``points_dir/<id>``)."""
    best = ranked(outcomes, grid)[: grid.search.best]
    lines = [
        Line(_params(o), read_equity(points_dir / o.point.id / "equity.csv"), c)
        for o, c in zip(best, _COLOURS, strict=False)
    ]
    # The legend runs along the top: the chart's title goes above it, as a heading.
    curves = f"<h2>Equity of the best {len(lines)}</h2>" + line_chart(lines, "", "equity")
    title = f"Atrium sweep: {grid.search.method}, objective {grid.search.objective}"
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{len(outcomes)} points, {sum(o.error is not None for o in outcomes)} failed.
Click a column's name to sort by it.</p>
{heatmap(grid, outcomes)}
<div>{curves if lines else ""}</div>
<h2>Points</h2>{_table(outcomes)}
<script>{_SCRIPT}</script></body></html>
"""
    path.write_text(body, encoding="utf-8")


def heatmap(grid: GridConfig, outcomes: Sequence[Outcome]) -> str:
    """An SVG table of the objective over the first two parameters ("" with fewer)."""
    keys = list(grid.params)
    if len(keys) < 2:
        return ""
    xs, ys = _distinct(outcomes, keys[0]), _distinct(outcomes, keys[1])
    cells: dict[tuple[str, str], float] = {}
    better = max if grid.search.direction == "maximize" else min
    for outcome in outcomes:
        value = objective_of(outcome, grid)
        if value is not None:
            at = (str(outcome.point.params[keys[0]]), str(outcome.point.params[keys[1]]))
            cells[at] = better(cells[at], value) if at in cells else value
    if not cells:
        return ""
    low, high = min(cells.values()), max(cells.values())
    size, left, top = 56, 80, 56
    width = max(left + size * len(xs) + 20, 640)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{top + size * len(ys) + 20}" font-family="system-ui,sans-serif" font-size="11">',
        f'<text x="4" y="16">{html.escape(grid.search.objective)} by {html.escape(keys[0])} '
        f"(across) and {html.escape(keys[1])} (down)</text>",
        f'<text x="{left}" y="{top - 22}" font-weight="bold">{html.escape(_short(keys[0]))}</text>',
        f'<text x="4" y="{top - 6}" font-weight="bold">{html.escape(_short(keys[1]))}</text>',
    ]
    for i, x in enumerate(xs):
        parts.append(f'<text x="{left + i * size + 4}" y="{top - 6}">{html.escape(x)}</text>')
    for j, y in enumerate(ys):
        parts.append(f'<text x="4" y="{top + j * size + size // 2 + 4}">{html.escape(y)}</text>')
        for i, x in enumerate(xs):
            parts.append(
                _cell(
                    left + i * size,
                    top + j * size,
                    size,
                    value=cells.get((x, y)),
                    low=low,
                    high=high,
                )
            )
    parts.append("</svg>")
    return "<h2>Heatmap</h2>" + "".join(parts)


def _cell(x: int, y: int, size: int, *, value: float | None, low: float, high: float) -> str:
    if value is None:
        return f'<rect x="{x}" y="{y}" width="{size}" height="{size}" fill="#eee" stroke="#fff"/>'
    share = 0.5 if high == low else (value - low) / (high - low)
    # From a muted red (worst) to a green (best) of the objective's values in the grid.
    red, green, blue = (round(a + (b - a) * share) for a, b in zip(_LOW, _HIGH, strict=True))
    fill = f"rgb({red},{green},{blue})"
    return (
        f'<rect x="{x}" y="{y}" width="{size}" height="{size}" fill="{fill}" stroke="#fff">'
        f"<title>{value:.4f}</title></rect>"
        f'<text x="{x + 4}" y="{y + size // 2 + 4}">{value:.3f}</text>'
    )


def _short(key: str) -> str:
    """The last part of a dotted key: ``fast`` for ``strategies.ema.params.fast``."""
    return key.rsplit(".", 1)[-1]


def _distinct(outcomes: Sequence[Outcome], key: str) -> list[str]:
    return list(dict.fromkeys(str(o.point.params[key]) for o in outcomes))


def _params(outcome: Outcome) -> str:
    return ", ".join(f"{_short(k)}={v}" for k, v in outcome.point.params.items())


def _table(outcomes: Sequence[Outcome]) -> str:
    columns, rows = result_rows(outcomes)
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(_td(row.get(column)) for column in columns) + "</tr>" for row in rows
    )
    return f'<table class="sort"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _td(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    if isinstance(value, dict):
        value = ", ".join(f"{k}={v}" for k, v in value.items())
    return f"<td>{html.escape('' if value is None else str(value))}</td>"


def write_walk_forward_html(
    path: Path, report: dict[str, Any], windows_csv: Path, curve: list[tuple[int, float]]
) -> None:
    """sweep.html of a walk-forward: the figures in and out of sample, windows, the curve."""
    figures = "".join(
        f"<tr><td>{html.escape(side.replace('_', ' '))}</td><td>{html.escape(key)}</td>"
        f"<td class='num'>{html.escape(str(value))}</td></tr>"
        for side in ("in_sample", "out_of_sample", "out_of_sample_stitched")
        for key, value in report[side].items()
    )
    with windows_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in rows[1:]
    )
    chart = line_chart(
        [Line("out of sample", curve, _COLOURS[0])], "Stitched out-of-sample equity", "equity"
    )
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Atrium walk-forward</title><style>{_STYLE}</style></head><body>
<h1>Atrium walk-forward: {report["windows"]} windows, objective {html.escape(report["objective"])}</h1>
<table><tr><th>sample</th><th>figure</th><th>value</th></tr>{figures}</table>
<div>{chart}</div>
<h2>Windows</h2><table class="sort"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<script>{_SCRIPT}</script></body></html>
"""
    path.write_text(page, encoding="utf-8")
