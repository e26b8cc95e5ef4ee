"""``[risk]``: the last gate before a venue — pre-trade checks and the trading state.

Percentages are fractions (``0.10`` is 10 %). Money caps are :class:`~decimal.Decimal`
(msgspec cannot put bounds on a Decimal, so they are checked in ``__post_init__``); the
other bounds are msgspec constraints, so the loader reports them as
``risk.price_band_pct: expected a number > 0, got -1``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from atrium.config.base import ConfigBase
from atrium.config.instruments import InstrumentConfig

__all__ = ("LimitAction", "RiskConfig", "SymbolRiskConfig")

#: What a tripped loss limit does: stop everything, or allow only orders that reduce.
LimitAction = Literal["halt", "reduce"]

_Fraction = Annotated[float, msgspec.Meta(gt=0, le=1)]
_OrderCount = Annotated[int, msgspec.Meta(gt=0)]
# One millisecond: a shorter window cannot be measured by a venue-facing throttle.
_WindowSeconds = Annotated[float, msgspec.Meta(ge=0.001)]


def _check_money_cap(key: str, value: Decimal | None) -> None:
    if value is not None and (not value.is_finite() or value <= 0):
        raise ValueError(f"{key}: expected a number > 0, got {value}")


class SymbolRiskConfig(ConfigBase, frozen=True, kw_only=True):
    """Per-symbol overrides, ``[risk.symbols.<SYMBOL>]``.

    Parameters
    ----------
    max_order_notional : Decimal
        Replaces ``risk.max_order_notional`` for this symbol (higher or lower), also when
        the global cap is off. Required: the table exists to set it.
    """

    max_order_notional: Decimal


class RiskConfig(ConfigBase, frozen=True, kw_only=True):
    """Settings of the risk actor.

    Checks run in this order and the first refusal wins: trading state, price band,
    order notional, order rate.

    Parameters
    ----------
    initial_state : {"ACTIVE", "REDUCING", "HALTED"}, default "ACTIVE"
        Trading state at start. Anything but ACTIVE is announced with a
        ``TradingStateChanged`` on start and held until a ``resume`` control.
    max_order_notional : Decimal or None, default None
        Largest ``quantity × price`` of one order, in account currency (price: the
        reference price, or the limit price of a LIMIT order when it is higher). ``None``:
        no global cap. Orders that reduce a position are exempt, so a flatten in a crash
        is never blocked by a cap meant for entries.
    symbols : table of SymbolRiskConfig, default {}
        Per-symbol overrides: ``[risk.symbols.NVDA] max_order_notional = 250000``.
    max_order_rate : int or None, default 100
        Most orders approved in any ``order_rate_window_seconds`` (a sliding window over
        the clock). An order over the rate is denied, never queued; denied orders do not
        use up the budget. Applies to every order, reducing ones included. ``None``: off.
    order_rate_window_seconds : float, default 1.0
        The sliding window of ``max_order_rate``; at least 0.001.
    price_band_pct : float or None, default 0.10
        Fat-finger band around the last trade price of the symbol (last bar close or
        tick): the reference price must lie within ``last × (1 ± band)``; a LIMIT price
        may not be more aggressive than that (a buy above the upper bound, a sell below
        the lower one) while passive limits may rest anywhere. With the band on, an
        order for a symbol with no trade seen yet is denied. ``None``: off.
    max_drawdown_pct : float or None, default None
        Trips when ``(peak equity − equity) / peak equity`` reaches this fraction.
        ``None``: off.
    drawdown_action : {"halt", "reduce"}, default "halt"
        State a tripped drawdown limit forces: HALTED, or REDUCING (reduce-only).
    max_daily_loss_pct : float or None, default None
        Trips when ``(day start equity − equity) / day start equity`` reaches this
        fraction; the day is the UTC date of the clock and its start equity is the last
        equity seen before the date changed. ``None``: off.
    daily_loss_action : {"halt", "reduce"}, default "halt"
        State a tripped daily-loss limit forces.
    daily_loss_resets_next_day : bool, default True
        Re-arm a tripped daily-loss limit at the next UTC day, releasing the state it
        forced. ``False``: it holds until an operator ``resume``. A tripped drawdown limit
        always holds until ``resume``.
    instruments : table of InstrumentConfig, default {}
        The root ``[instruments]`` table, copied here by the loader: the notional cap is
        taken at ``quantity * price * multiplier``, and LIMIT/STOP prices off a symbol's
        ``tick_size`` are denied (``PRICE_NOT_ON_TICK``).
    """

    initial_state: Literal["ACTIVE", "REDUCING", "HALTED"] = "ACTIVE"
    max_order_notional: Decimal | None = None
    symbols: dict[str, SymbolRiskConfig] = msgspec.field(default_factory=dict)
    max_order_rate: _OrderCount | None = 100
    order_rate_window_seconds: _WindowSeconds = 1.0
    price_band_pct: _Fraction | None = 0.10
    max_drawdown_pct: _Fraction | None = None
    drawdown_action: LimitAction = "halt"
    max_daily_loss_pct: _Fraction | None = None
    daily_loss_action: LimitAction = "halt"
    daily_loss_resets_next_day: bool = True
    instruments: dict[str, InstrumentConfig] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_money_cap("max_order_notional", self.max_order_notional)
        for symbol, override in self.symbols.items():
            if not symbol:
                raise ValueError("symbols: a symbol name must not be empty")
            _check_money_cap(f"symbols.{symbol}.max_order_notional", override.max_order_notional)
