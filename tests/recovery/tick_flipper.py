"""A strategy that trades ticks all the time: every ``every`` ticks of a symbol it buys
``quantity`` when flat or long nothing, and closes when it holds a position.

The bundled strategies act on bars; a fault campaign needs orders and fills on every
second of a ``synthetic_live`` tick feed, so a kill finds order flow in progress. Loaded
by ``atrium run`` as ``tick_flipper:TickFlipper`` with ``tests/recovery`` on
``PYTHONPATH``.
"""

from __future__ import annotations

from decimal import Decimal

from atrium.actors.strategy.api import Strategy
from atrium.config.base import ConfigBase
from atrium.runtime.messages import Tick

__all__ = ("TickFlipper", "TickFlipperParams")


class TickFlipperParams(ConfigBase, frozen=True, kw_only=True):
    """``[strategies.<name>.params]`` of :class:`TickFlipper`."""

    every: int = 5
    quantity: Decimal = Decimal(3)


class TickFlipper(Strategy[TickFlipperParams]):
    """Buys when flat and closes when not, on every ``every``-th tick of each symbol."""

    Params = TickFlipperParams

    def on_start(self) -> None:
        self._seen: dict[str, int] = {}

    def on_tick(self, tick: Tick) -> None:
        seen = self._seen.get(tick.symbol, 0) + 1
        self._seen[tick.symbol] = seen
        if seen % self.params.every:
            return
        if self.position(tick.symbol):
            self.close(tick.symbol, tag="flip")
        else:
            self.buy(tick.symbol, self.params.quantity, tag="flip")
