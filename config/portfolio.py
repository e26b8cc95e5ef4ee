"""``[portfolio]``: sizing modes, caps, budgets and the commission estimate of the portfolio.

Every number that touches money or quantity is a :class:`~decimal.Decimal` (TOML floats
are read as ``Decimal``), so ``0.1`` in the file is exactly ``0.1`` in the sizing maths.
msgspec cannot put bounds on a ``Decimal``, so :class:`PortfolioConfig` checks every value
in ``__post_init__`` and names the key relative to the section, nested tables included
(``strategy_budgets.trend.capital_pct: expected a number >= 0, got -0.1``; the loader
prefixes ``portfolio.``). The nested Structs leave their checks to it, so one place knows
the whole key and the cross-field rules, however the config was built.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Final, Literal, TypeAlias

import msgspec

from atrium.config.base import ConfigBase
from atrium.config.instruments import InstrumentConfig, multiplier_of

__all__ = (
    "CommissionConfig",
    "PortfolioConfig",
    "SizingModeName",
    "StrategyBudgetConfig",
    "SymbolConfig",
)

#: The sizing modes (the same names as ``atrium.runtime.messages.SizingMode``; config imports
#: nothing of ours, so the literal is repeated here).
SizingModeName: TypeAlias = Literal["fixed_qty", "fixed_risk_atr", "percent_equity"]

_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)


class CommissionConfig(ConfigBase, frozen=True, kw_only=True):
    """The commission the portfolio *expects* to pay, used only for sizing.

    The ledger books the commission each ``Fill`` reports; this estimate keeps the loss
    at the stop (fixed_risk_atr) and the cost of a position (percent_equity) inside their
    budgets. One order leg costs ``max(minimum, quantity * (per_share + pct_of_notional
    * price))``. Checked by :class:`PortfolioConfig`.

    Parameters
    ----------
    per_share : Decimal, default 0
        Commission per unit traded, >= 0.
    pct_of_notional : Decimal, default 0
        Commission as a fraction of the traded notional, in [0, 1).
    minimum : Decimal, default 0
        Least commission charged per order leg, >= 0.
    """

    per_share: Decimal = _ZERO
    pct_of_notional: Decimal = _ZERO
    minimum: Decimal = _ZERO


class SymbolConfig(ConfigBase, frozen=True, kw_only=True):
    """Settings of one symbol (``[portfolio.symbols.<symbol>]``). Checked by :class:`PortfolioConfig`.

    Parameters
    ----------
    lot_size : Decimal, default 1
        Orders are whole multiples of this (25 for a 25-lot futures contract, 0.001 for a
        crypto pair); every quantity is rounded *down* to it after each cap. > 0. Its one
        home: the other contract terms (multiplier, tick size) are ``[instruments]``.
    max_symbol_exposure_pct : Decimal or None, default None
        Cap on the symbol's net exposure, including orders in flight, as a fraction of
        equity, > 0. ``None``: no per-symbol cap (the gross cap still applies).
    """

    lot_size: Decimal = _ONE
    max_symbol_exposure_pct: Decimal | None = None


class StrategyBudgetConfig(ConfigBase, frozen=True, kw_only=True):
    """The budget and sizing overrides of one strategy (``[portfolio.strategy_budgets.<name>]``).

    Checked by :class:`PortfolioConfig`.

    Parameters
    ----------
    capital_pct : Decimal
        The strategy's budget as a fraction of equity, >= 0 (0 lets it only reduce). Its
        gross exposure, including its orders in flight, may not exceed ``equity *
        capital_pct``. Required.
    fixed_qty : Decimal or None, default None
        Quantity of the strategy's intents sized in ``fixed_qty`` mode without a
        ``quantity``, > 0. ``None``: the portfolio's ``default_fixed_qty``.
    sizing_mode : {"fixed_qty", "fixed_risk_atr", "percent_equity"} or None, default None
        How the strategy's intents that state no way of sizing are sized. ``None``: the
        portfolio's ``position_sizing_mode``.
    risk_per_trade_pct : Decimal or None, default None
        Fraction of equity the strategy risks per trade when an intent states no
        ``risk_pct``, in (0, ``max_risk_per_trade_pct``]. ``None``: the portfolio's
        ``max_risk_per_trade_pct``.
    """

    capital_pct: Decimal
    fixed_qty: Decimal | None = None
    sizing_mode: SizingModeName | None = None
    risk_per_trade_pct: Decimal | None = None


class PortfolioConfig(ConfigBase, frozen=True, kw_only=True):
    """Settings of the portfolio actor: how intents become quantities and what caps them.

    Parameters
    ----------
    position_sizing_mode : {"fixed_qty", "fixed_risk_atr", "percent_equity"}, default "fixed_qty"
        How an intent that states no way of sizing (no ``quantity``, ``weight``, stop
        distance or ``risk_pct``) is sized, unless its strategy overrides it. An intent
        that states one is sized that way: ``quantity`` fixed, ``weight`` percent of
        equity, a stop distance or ``risk_pct`` by risk.
    initial_capital : Decimal, default 100000
        Cash on a fresh start, so the equity before any fill; > 0.
    max_leverage : Decimal, default 1.0
        Gross exposure may reach ``equity * max_exposure_pct * max_leverage``; long
        positions also hold ``1 / max_leverage`` of their value as margin. > 0.
    max_exposure_pct : Decimal, default 0.8
        Share of the leveraged buying power that may be used, in (0, 1].
    max_risk_per_trade_pct : Decimal, default 0.01
        Most equity an order may lose at its stop, commission included, in (0, 1]. Caps
        every order that has a stop distance; an intent's ``risk_pct`` above it is cut.
    max_risk_per_strategy_pct : Decimal, default 0.2
        Budget (fraction of equity) of a strategy without a ``strategy_budgets`` entry, >= 0.
    default_fixed_qty : Decimal, default 1
        Quantity of a ``fixed_qty`` intent that states none and whose strategy sets none, > 0.
    atr_period : int, default 14
        Period of the Wilder ATR the portfolio keeps per symbol from bars, >= 1.
    atr_stop_multiplier : Decimal, default 2.0
        ``fixed_risk_atr`` stop distance is ``atr_stop_multiplier * ATR`` when the intent
        gives neither ``risk_per_share`` nor ``stop_price``; > 0.
    slippage_pct : Decimal, default 0
        Expected adverse slippage as a fraction of price, in [0, 1); ``percent_equity``
        sizes at ``price * (1 + slippage_pct)`` so the position fits its weight. Loaded
        from a file without it: ``[execution].slippage_bps / 10000``.
    short_margin_pct : Decimal, default 0.5
        Equity held as margin per unit of short notional (Reg T initial margin is 50 %),
        > 0. The margin of all positions and orders in flight may not exceed equity.
    order_id_prefix : str, default "O-"
        Order ids are ``<prefix><counter:08d>``, numbered from 1; non-empty.
    commission : CommissionConfig
        The commission estimate used for sizing. Loaded from a file without
        ``[portfolio.commission]``: the venue's, ``[execution]`` ``commission_per_share``,
        ``commission_bps / 10000`` and ``commission_min``; otherwise none.
    symbols : table of SymbolConfig, default {}
        Per-symbol ``lot_size`` and ``max_symbol_exposure_pct``; unlisted symbols use
        the :class:`SymbolConfig` defaults.
    strategy_budgets : table of StrategyBudgetConfig, default {}
        Per-strategy ``capital_pct`` and sizing overrides; unlisted strategies get
        ``max_risk_per_strategy_pct`` and the portfolio's defaults.
    account_currency : str, default "USD"
        The currency of cash and equity; every ``[instruments]`` entry must be quoted in it.
    instruments : table of InstrumentConfig, default {}
        The root ``[instruments]`` table, copied here by the loader (not set in
        ``[portfolio]``): multipliers scale every notional, PnL and cap.
    """

    position_sizing_mode: SizingModeName = "fixed_qty"
    initial_capital: Decimal = Decimal(100000)
    max_leverage: Decimal = Decimal("1.0")
    max_exposure_pct: Decimal = Decimal("0.8")
    max_risk_per_trade_pct: Decimal = Decimal("0.01")
    max_risk_per_strategy_pct: Decimal = Decimal("0.2")
    default_fixed_qty: Decimal = _ONE
    atr_period: Annotated[int, msgspec.Meta(ge=1)] = 14
    atr_stop_multiplier: Decimal = Decimal("2.0")
    slippage_pct: Decimal = _ZERO
    short_margin_pct: Decimal = Decimal("0.5")
    order_id_prefix: Annotated[str, msgspec.Meta(min_length=1)] = "O-"
    commission: CommissionConfig = msgspec.field(default_factory=CommissionConfig)
    symbols: dict[str, SymbolConfig] = msgspec.field(default_factory=dict)
    strategy_budgets: dict[str, StrategyBudgetConfig] = msgspec.field(default_factory=dict)
    account_currency: Annotated[str, msgspec.Meta(min_length=1)] = "USD"
    instruments: dict[str, InstrumentConfig] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        _positive("initial_capital", self.initial_capital)
        _positive("max_leverage", self.max_leverage)
        _fraction("max_exposure_pct", self.max_exposure_pct)
        _fraction("max_risk_per_trade_pct", self.max_risk_per_trade_pct)
        _non_negative("max_risk_per_strategy_pct", self.max_risk_per_strategy_pct)
        _positive("default_fixed_qty", self.default_fixed_qty)
        _positive("atr_stop_multiplier", self.atr_stop_multiplier)
        _below_one("slippage_pct", self.slippage_pct)
        _positive("short_margin_pct", self.short_margin_pct)
        _non_negative("commission.per_share", self.commission.per_share)
        _below_one("commission.pct_of_notional", self.commission.pct_of_notional)
        _non_negative("commission.minimum", self.commission.minimum)
        for symbol, settings in self.symbols.items():
            _name("symbols", symbol)
            _positive(f"symbols.{symbol}.lot_size", settings.lot_size)
            if settings.max_symbol_exposure_pct is not None:
                key = f"symbols.{symbol}.max_symbol_exposure_pct"
                _positive(key, settings.max_symbol_exposure_pct)
        for name, budget in self.strategy_budgets.items():
            _name("strategy_budgets", name)
            key = f"strategy_budgets.{name}"
            _non_negative(f"{key}.capital_pct", budget.capital_pct)
            if budget.fixed_qty is not None:
                _positive(f"{key}.fixed_qty", budget.fixed_qty)
            if budget.risk_per_trade_pct is not None:
                _fraction(f"{key}.risk_per_trade_pct", budget.risk_per_trade_pct)
                if budget.risk_per_trade_pct > self.max_risk_per_trade_pct:
                    raise ValueError(
                        f"{key}.risk_per_trade_pct: {budget.risk_per_trade_pct} exceeds "
                        f"max_risk_per_trade_pct={self.max_risk_per_trade_pct}; lower it or "
                        "raise [portfolio].max_risk_per_trade_pct"
                    )

    def symbol(self, symbol: str) -> SymbolConfig:
        """The settings of ``symbol`` (the defaults when it has no entry)."""
        return self.symbols.get(symbol, _DEFAULT_SYMBOL)

    def multiplier(self, symbol: str) -> Decimal:
        """The contract multiplier of ``symbol`` (1 unless ``[instruments]`` sets one)."""
        return multiplier_of(self.instruments, symbol)


_DEFAULT_SYMBOL: Final = SymbolConfig()


def _number(key: str, value: object) -> Decimal:
    # TOML and msgspec.convert always hand us a Decimal; a float here came from Python
    # code and would smuggle binary rounding into the money maths, so it is refused.
    if not isinstance(value, Decimal):
        raise ValueError(f"{key}: expected a Decimal, got {value!r} ({type(value).__name__})")
    if not value.is_finite():
        raise ValueError(f"{key}: expected a finite number, got {value}")
    return value


def _positive(key: str, value: object) -> None:
    if _number(key, value) <= _ZERO:
        raise ValueError(f"{key}: expected a number > 0, got {value}")


def _non_negative(key: str, value: object) -> None:
    if _number(key, value) < _ZERO:
        raise ValueError(f"{key}: expected a number >= 0, got {value}")


def _fraction(key: str, value: object) -> None:
    number = _number(key, value)
    if not _ZERO < number <= _ONE:
        raise ValueError(f"{key}: expected a number in (0, 1], got {value}")


def _below_one(key: str, value: object) -> None:
    number = _number(key, value)
    if not _ZERO <= number < _ONE:
        raise ValueError(f"{key}: expected a number in [0, 1), got {value}")


def _name(table: str, name: str) -> None:
    if not name:
        raise ValueError(f"{table}: a key must be a non-empty name")
