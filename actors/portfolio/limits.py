"""Read-only views of the portfolio for the HTTP API: limits and positions.

Both return plain JSON-ready data: Decimals as strings (exact, never a float), and
percentages as strings rounded to 0.01. ``current_exposure`` and a strategy's ``used``
include the exposure reserved by orders in flight, because that is what the caps
measure: ``available`` is what the next order may still add.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

import msgspec

from atrium.actors.portfolio.ledger import Ledger
from atrium.actors.portfolio.sizing import resolve_strategy
from atrium.actors.portfolio.venue_book import UNATTRIBUTED
from atrium.config.portfolio import PortfolioConfig

__all__ = ("limits_view", "positions_view", "strategy_names")

ZERO: Final = Decimal(0)
_HUNDRED: Final = Decimal(100)
_CENT: Final = Decimal("0.01")


def _text(value: Decimal) -> str:
    """Plain notation, no exponent and no trailing zeros: ``160000``, not ``1.6E+5``."""
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


def _pct(part: Decimal, whole: Decimal) -> str:
    if whole <= ZERO:
        return "0.00"
    return str((part * _HUNDRED / whole).quantize(_CENT, rounding=ROUND_HALF_EVEN))


def strategy_names(ledger: Ledger, config: PortfolioConfig) -> list[str]:
    """Strategies with a budget entry, then the others in the order they first traded
    (not the venue's unattributed book: no strategy, so no budget)."""
    names = list(config.strategy_budgets)
    names.extend(
        name
        for name in ledger.by_strategy
        if name not in config.strategy_budgets and name != UNATTRIBUTED
    )
    return names


def limits_view(ledger: Ledger, config: PortfolioConfig) -> dict[str, Any]:
    """The ``GET /api/portfolio/limits`` document.

    Keys: ``equity``, ``cash``, ``max_exposure`` (``equity * max_exposure_pct *
    max_leverage``), ``current_exposure`` (gross, orders in flight included),
    ``filled_exposure``, ``reserved_exposure``, ``available_exposure``,
    ``exposure_utilization_pct``, ``leverage``, ``margin_required``, ``margin_available``,
    ``per_strategy.<name>`` (``budget``, ``used``, ``available``, ``utilization_pct``,
    ``capital_pct``, ``sizing_mode``), ``per_symbol.<symbol>`` (``exposure``, ``limit``,
    ``available``, ``lot_size``) and ``config`` (the effective ``[portfolio]`` section).
    """
    equity = ledger.equity
    max_exposure = equity * config.max_exposure_pct * config.max_leverage
    current = ledger.gross_projected()
    filled = ledger.gross_value
    margin = ledger.margin_projected() / config.max_leverage

    per_strategy = _strategy_limits(ledger, config, equity)
    per_symbol = _symbol_limits(ledger, config, equity)
    return {
        "equity": _text(equity),
        "cash": _text(ledger.cash),
        "max_exposure": _text(max_exposure),
        "current_exposure": _text(current),
        "filled_exposure": _text(filled),
        "reserved_exposure": _text(current - filled),
        "available_exposure": _text(max(max_exposure - current, ZERO)),
        "exposure_utilization_pct": _pct(current, max_exposure),
        "leverage": _text(filled / equity) if equity > ZERO else None,
        "margin_required": _text(margin),
        "margin_available": _text(max(equity - margin, ZERO)),
        "per_strategy": per_strategy,
        "per_symbol": per_symbol,
        "config": msgspec.to_builtins(config),
    }


def _strategy_limits(
    ledger: Ledger, config: PortfolioConfig, equity: Decimal
) -> dict[str, dict[str, str]]:
    """``per_strategy``: each strategy's budget, what it uses of it and what is left."""
    per_strategy: dict[str, dict[str, str]] = {}
    for name in strategy_names(ledger, config):
        settings = resolve_strategy(config, name)
        budget = equity * settings.capital_pct
        used = ledger.strategy_projected(name)
        per_strategy[name] = {
            "budget": _text(budget),
            "used": _text(used),
            "available": _text(max(budget - used, ZERO)),
            "utilization_pct": _pct(used, budget),
            "capital_pct": _text(settings.capital_pct),
            "sizing_mode": settings.mode,
        }
    return per_strategy


def _symbol_limits(
    ledger: Ledger, config: PortfolioConfig, equity: Decimal
) -> dict[str, dict[str, str | None]]:
    """``per_symbol``: configured symbols, then the others the ledger has a book for."""
    per_symbol: dict[str, dict[str, str | None]] = {}
    symbols = list(config.symbols)
    symbols.extend(symbol for symbol in ledger.books if symbol not in config.symbols)
    for symbol in symbols:
        book = ledger.books.get(symbol)
        symbol_settings = config.symbol(symbol)
        exposure = book.projected_value if book is not None else ZERO
        limit_pct = symbol_settings.max_symbol_exposure_pct
        limit = equity * limit_pct if limit_pct is not None else None
        per_symbol[symbol] = {
            "exposure": _text(exposure),
            "limit": _text(limit) if limit is not None else None,
            "available": _text(max(limit - exposure, ZERO)) if limit is not None else None,
            "lot_size": _text(symbol_settings.lot_size),
        }
    return per_symbol


def positions_view(ledger: Ledger) -> list[dict[str, str]]:
    """The ``GET /api/portfolio/positions`` document: every position ever opened."""
    rows: list[dict[str, str]] = []
    for position in ledger.positions.values():
        if not position.quantity and not position.realized_pnl and not position.commission:
            continue  # only ever had orders in flight: nothing to show
        mark = ledger.mark_of(position.symbol) or ZERO
        value = mark if position.scale is None else mark * position.scale
        rows.append(
            {
                "strategy": position.strategy,
                "symbol": position.symbol,
                "quantity": _text(position.quantity),
                "avg_price": _text(position.avg_price),
                "mark": _text(mark),
                "market_value": _text(position.quantity * value),
                "unrealized_pnl": _text(position.quantity * value - position.cost),
                "realized_pnl": _text(position.realized_pnl),
                "commission": _text(position.commission),
            }
        )
    return rows
