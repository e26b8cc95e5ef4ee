"""``report.html``: one self-contained page (inline SVG charts, no scripts, no network)."""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.dates as mdates
from matplotlib.figure import Figure

from atrium.runtime.reports.collect import RunRecord

__all__ = ("write_report",)

_NS_PER_DAY = 86_400e9
mpl.rcParams["svg.hashsalt"] = "atrium"  # stable SVG ids: the same run renders the same bytes
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ccc;padding:.2rem .5rem;
text-align:right}th{background:#f3f3f3}h1{font-size:1.5rem}.grid td:first-child{text-align:left}
"""


def _svg(
    series: list[tuple[str, Sequence[tuple[int, float]], str]], title: str, ylabel: str
) -> str:
    # A bare Figure (no pyplot): no global state, no display backend needed.
    figure = Figure(figsize=(10, 3.2))
    axes = figure.subplots()
    for label, points, colour in series:
        days = [ts / _NS_PER_DAY for ts, _ in points]  # matplotlib dates: days since 1970
        axes.plot(days, [value for _, value in points], label=label, color=colour, linewidth=1)
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    if len(series) > 1:
        axes.legend(loc="upper left")
    buffer = io.StringIO()
    figure.tight_layout()
    # No date or creator: the same run renders the same bytes.
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def write_report(
    path: Any, record: RunRecord, summary: dict[str, Any], exposure_limit_ratio: float
) -> None:
    """Render the equity curve, drawdown, exposure against its limit, and the trades."""
    equity = record.equity.points()
    # The limit is a multiple of equity: the equity series' points carry its extremes too.
    limit = [(ts, value * exposure_limit_ratio) for ts, value in equity]
    charts = (
        [
            _svg([("equity", equity, "#1f77b4")], "Equity", "equity"),
            _svg([("drawdown", record.drawdown.points(), "#d62728")], "Drawdown from peak", "%"),
            _svg(
                [
                    ("gross exposure", record.exposure.points(), "#2ca02c"),
                    ("limit", limit, "#7f7f7f"),
                ],
                "Gross exposure against its limit",
                "exposure",
            ),
        ]
        if equity
        else []
    )
    rows = "".join(
        f"<tr><td>{html.escape(key)}</td><td>{html.escape(_fmt(value))}</td></tr>"
        for key, value in summary.items()
        if not isinstance(value, dict)
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
<h2>Trades</h2>{trade_table}
</body></html>
"""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(body)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}"
    return "" if value is None else str(value)


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
        "<tr>" + "".join(f"<td>{html.escape(row.get(c, ''))}</td>" for c in columns) + "</tr>"
        for row in trades
    )
    more = (
        f"<p>First {len(trades)} of {total} fills; all are in trades.csv.</p>"
        if total > len(trades)
        else ""
    )
    return f"<table><tr>{head}</tr>{body}</table>{more}"
