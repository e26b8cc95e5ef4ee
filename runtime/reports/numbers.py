"""How the summary's figures are shown to a person: money to cents, percentages as percent.

summary.json keeps every figure as computed (money as exact decimal strings, ratios to 6
places); the terminal summary and report.html show them through :func:`show`, because
``102177.8988910670`` and ``0.021779`` make a reader count digits where ``102,177.90``
and ``2.18 %`` do not.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Final

__all__ = ("KINDS", "show", "show_money", "show_percent", "show_ratio")

_CENT: Final = Decimal("0.01")

#: The kind of each summary figure that is not a plain count or text.
KINDS: Final[dict[str, str]] = {
    "initial_equity": "money",
    "final_equity": "money",
    "total_return": "percent",
    "cagr": "percent",
    "volatility": "percent",
    "max_drawdown": "percent",
    "win_rate": "percent",
    "trade_win_rate": "percent",
    "benchmark_return": "percent",
    "benchmark_cagr": "percent",
    "benchmark_max_drawdown": "percent",
    "benchmark_sharpe": "ratio",
    "time_in_market": "percent",
    "sharpe": "ratio",
    "sortino": "ratio",
    "calmar": "ratio",
    "beta": "ratio",
    "alpha": "percent",
    "correlation": "ratio",
    "profit_factor": "ratio",
    "expectancy": "money",
    "average_win": "money",
    "average_loss": "money",
    "largest_win": "money",
    "largest_loss": "money",
    "wall_seconds": "seconds",
    "bars_per_second": "rate",
    "average_holding_days": "days",
    "longest_drawdown_days": "days",
}


def show_money(value: Decimal | float | str) -> str:
    """``102177.8988910670`` as ``102,177.90`` (half-even to the cent, as accounts round)."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not amount.is_finite():
        return str(value)
    return f"{amount.quantize(_CENT, ROUND_HALF_EVEN):,}"


def show_percent(value: float) -> str:
    """``0.021779`` as ``2.18 %``."""
    return f"{value * 100:,.2f} %"


def show_ratio(value: float) -> str:
    """A ratio (Sharpe, beta ...) to 2 places; a small one to 4 so it does not read as 0."""
    return f"{value:,.2f}" if abs(value) >= 0.1 or value == 0 else f"{value:,.4f}"


def show(key: str, value: Any) -> str:
    """A summary figure as a person reads it ('' for ``None``)."""
    if value is None:
        return ""
    if isinstance(value, bool | dict):
        return str(value)
    kind = KINDS.get(key)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if kind == "money":
        return show_money(value)
    if isinstance(value, int | float) and kind is not None:
        number = float(value)
        if kind == "percent":
            return show_percent(number)
        if kind == "ratio":
            return show_ratio(number)
        if kind == "seconds":
            return f"{number:,.2f} s"
        if kind == "rate":
            return f"{number:,.0f}"
        if kind == "days":
            return f"{number:,.1f} days"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}"
    return str(value)
