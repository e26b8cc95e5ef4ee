"""A strategy for the live ops test: buy a fixed quantity on the first tick, then hold.

The bundled strategies act on bars and the synthetic live feed sends ticks, so none of
them would trade in ``atrium run`` on that feed. Holding one known position on a feed
whose price never moves (``volatility = 0``) freezes the account at numbers worked out by
hand, so Prometheus and the API can be compared exactly.

Loaded by ``atrium run`` as ``ops_strategy:BuyAndHold`` with ``tests/ops`` on
``PYTHONPATH``.
"""

from __future__ import annotations

from decimal import Decimal

from atrium.actors.strategy.api import Strategy
from atrium.config.base import ConfigBase
from atrium.runtime.messages import Tick

__all__ = ("BuyAndHold", "BuyAndHoldParams")


class BuyAndHoldParams(ConfigBase, frozen=True, kw_only=True):
    """``[strategies.<name>.params]`` of :class:`BuyAndHold`.

    Parameters
    ----------
    quantity : Decimal
        Units bought of each symbol, once.
    """

    quantity: Decimal


class BuyAndHold(Strategy[BuyAndHoldParams]):
    """One BUY of ``quantity`` per symbol on its first tick; nothing after."""

    Params = BuyAndHoldParams

    def on_start(self) -> None:
        self._bought: dict[str, None] = {}

    def on_tick(self, tick: Tick) -> None:
        if tick.symbol in self._bought:
            return
        self._bought[tick.symbol] = None
        self.buy(tick.symbol, self.params.quantity, tag="hold")
