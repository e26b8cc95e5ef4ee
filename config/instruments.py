"""``[instruments.<symbol>]``: what one unit of a symbol is worth, and its price grid.

One home for the contract terms that portfolio, risk and execution all need. Actors
share nothing, so the loader copies the table into each of their sections (their
``instruments`` field) and every actor reads its own copy at construction.

A futures contract's notional is ``price * multiplier * quantity``: an E-mini S&P 500
(``multiplier = 50``) at 4,000 is worth 200,000 a contract. Every money figure (cash on
a fill, market value, PnL, exposure, margin, risk's notional cap, the venue's
commission on notional) uses it. Prices, quantities and stop distances stay in the
instrument's own units.

There is no FX conversion: every instrument must be quoted in the account currency
(``[portfolio].account_currency``), and the loader refuses one that is not rather than
add up money in two currencies.

Lot size is not here: it stays ``[portfolio.symbols.<symbol>].lot_size`` (sizing is
its only reader), so it has one home.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from atrium.config.base import ConfigBase

__all__ = ("InstrumentConfig", "check_currencies", "multiplier_of", "tick_of")

_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)


class InstrumentConfig(ConfigBase, frozen=True, kw_only=True):
    """The contract terms of one symbol (``[instruments.<symbol>]``).

    Parameters
    ----------
    multiplier : Decimal, default 1
        Money per unit of price per unit of quantity (50 for ES, 1 for a share), > 0.
    tick_size : Decimal or None, default None
        Smallest price step, > 0. Risk denies a LIMIT or STOP price off the grid
        (``PRICE_NOT_ON_TICK``) and the paper venue rounds its slipped fill prices to it
        (overriding ``[execution].price_increment`` for this symbol). ``None``: no grid.
    currency : str or None, default None
        The quote currency; ``None`` is the account currency. Any other currency is
        refused at load time (no FX conversion exists).
    """

    multiplier: Decimal = _ONE
    tick_size: Decimal | None = None
    currency: str | None = None

    def __post_init__(self) -> None:
        _positive("multiplier", self.multiplier)
        if self.tick_size is not None:
            _positive("tick_size", self.tick_size)
        if self.currency is not None and not self.currency:
            raise ValueError("currency: expected a currency code such as 'USD', got ''")


def _positive(key: str, value: object) -> None:
    # A float would bring binary rounding into the money maths; TOML gives Decimals.
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{key}: expected a finite Decimal, got {value!r}")
    if value <= _ZERO:
        raise ValueError(f"{key}: expected a number > 0, got {value}")


def multiplier_of(instruments: Mapping[str, InstrumentConfig], symbol: str) -> Decimal:
    """The multiplier of ``symbol`` (1 when it has no entry)."""
    spec = instruments.get(symbol)
    return spec.multiplier if spec is not None else _ONE


def tick_of(instruments: Mapping[str, InstrumentConfig], symbol: str) -> Decimal | None:
    """The tick size of ``symbol`` (``None`` when it has none)."""
    spec = instruments.get(symbol)
    return spec.tick_size if spec is not None else None


def check_currencies(instruments: Mapping[str, InstrumentConfig], account: str) -> None:
    """Refuse an instrument quoted in another currency than the account's.

    Without FX rates its PnL would be added to cash as if it were the account's money.
    """
    for symbol, spec in instruments.items():
        if not symbol:
            raise ValueError("instruments: a key must be a non-empty symbol")
        if spec.currency is not None and spec.currency != account:
            raise ValueError(
                f"instruments.{symbol}.currency: {spec.currency!r} is not the account "
                f"currency {account!r} ([portfolio].account_currency); Atrium has no FX "
                "conversion, so every instrument must be quoted in the account currency"
            )
