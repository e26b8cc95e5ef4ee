"""``report.html``: one self-contained page (inline SVG charts, no scripts, no network)."""

from __future__ import annotations

import html
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from atrium.runtime.reports.collect import RunRecord
from atrium.runtime.reports.numbers import show, show_money
from atrium.runtime.reports.series import Point
from atrium.runtime.reports.svg import Line, line_chart
from atrium.runtime.reports.tables import breakdown_table, monthly_table

__all__ = ("write_report",)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ccc;padding:.2rem .5rem;
text-align:right}th{background:#f3f3f3}h1{font-size:1.5rem}.grid td:first-child{text-align:left}
.scroll{max-width:100%;max-height:32rem;overflow:auto;border:1px solid #ccc}
.scroll th{position:sticky;top:0}svg{max-width:100%;height:auto}
"""


def write_report(
    path: Any,
    record: RunRecord,
    summary: dict[str, Any],
    exposure_limit_ratio: float,
    benchmark: list[Point] | None = None,
) -> None:
    """Render the equity curve (with buy-and-hold), drawdown, exposure against its limit,
    the monthly returns, the breakdowns and the trades."""
    charts = _charts(record, summary, exposure_limit_ratio, benchmark or [])
    rows = "".join(
        f"<tr><td>{html.escape(key)}</td><td>{html.escape(show(key, value))}</td></tr>"
        for key, value in summary.items()
        if not isinstance(value, dict) and not (key == "annualised_note" and value is None)
    )
    tables = monthly_table(summary.get("monthly_returns") or {}) + "".join(
        breakdown_table(title, summary.get(key) or {})
        for key, title in (("by_strategy", "By strategy"), ("by_symbol", "By symbol"))
    )
    denials = summary.get("denials_by_reason") or {}
    denial_rows = "".join(
        f"<tr><td>{html.escape(reason)}</td><td>{count}</td></tr>"
        for reason, count in denials.items()
    )
    trade_table = _trade_table(record.trades, record.fills)
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Atrium replay report</title><style>{_STYLE}</style></head><body>
<h1>Atrium replay report</h1>
<table class="grid">{rows}</table>
{"<h2>Denials by reason</h2><table class='grid'>" + denial_rows + "</table>" if denial_rows else ""}
{"".join(f"<div>{chart}</div>" for chart in charts)}
{tables}
<h2>Trades</h2>{trade_table}
</body></html>
"""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(body)


def _charts(
    record: RunRecord, summary: dict[str, Any], exposure_limit_ratio: float, held: list[Point]
) -> list[str]:
    """Equity beside buy-and-hold, drawdown, and exposure against its limit."""
    equity = record.equity.points()
    if not equity:
        return []
    # The limit is a multiple of equity: the equity series' points carry its extremes too.
    limit = [(ts, value * exposure_limit_ratio) for ts, value in equity]
    label = f"buy and hold {summary.get('benchmark', '')}".strip()
    lines = [Line("strategy", equity, "#1f77b4")]
    if held:
        lines.append(Line(label, held, "#ff7f0e"))
    return [
        line_chart(lines, "Equity", "equity"),
        line_chart(
            [Line("drawdown", record.drawdown.points(), "#d62728")], "Drawdown from peak", "%"
        ),
        line_chart(
            [
                Line("gross exposure", record.exposure.points(), "#2ca02c"),
                Line("limit", limit, "#7f7f7f"),
            ],
            "Gross exposure against its limit",
            "exposure",
        ),
    ]


#: How each trades.csv column is shown on the page (money to cents, prices to 4 places).
_TRADE_CELLS: dict[str, Callable[[str], str]] = {
    "time": lambda text: text.replace("T00:00:00Z", "").replace("T", " ").replace("Z", ""),
    "quantity": lambda text: _number(text, "{:,.0f}"),
    "price": lambda text: _number(text, "{:,.4f}"),
    "commission": show_money,
    "realized_pnl": show_money,
    "stop_distance": lambda text: _number(text, "{:,.4f}"),
}


def _number(text: str, pattern: str) -> str:
    try:
        return pattern.format(Decimal(text))
    except (InvalidOperation, ValueError):
        return text


def _cell(column: str, text: str) -> str:
    shown = _TRADE_CELLS[column](text) if text and column in _TRADE_CELLS else text
    return html.escape(shown)


def _trade_table(trades: list[dict[str, str]], total: int) -> str:
    if not trades:
        return "<p>No trades.</p>"
    columns = [
        "time",
        "strategy",
        "symbol",
        "side",
        "quantity",
        "price",
        "commission",
        "realized_pnl",
        "sizing_mode",
        "stop_distance",
        "binding_cap",
    ]
    head = "".join(f"<th>{c}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(c, row.get(c, ''))}</td>" for c in columns) + "</tr>"
        for row in trades
    )
    more = (
        f"<p>First {len(trades)} of {total} fills; all are in trades.csv.</p>"
        if total > len(trades)
        else ""
    )
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>{more}'
