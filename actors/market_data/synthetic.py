"""A seeded geometric Brownian motion feed: demo and benchmark bars, identical every run.

Each symbol draws from its own ``random.Random`` seeded with ``"<seed>:<symbol>"`` (a
string seed is hashed with SHA-512, not with the per-process ``hash``), so a path depends
on the seed and the symbol only. A bar takes ``intrabar_steps`` log-normal steps from the
previous close; high and low are the extremes of that path. Prices are computed in float
and turned into ``Decimal`` only as whole numbers of ``tick_size`` (never below one
tick); rounding to a grid keeps order, so ``low <= open, close <= high`` still holds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Final

from atrium.config.market_data import SyntheticConfig
from atrium.runtime.messages import Bar

__all__ = ("SyntheticFeed",)

_YEAR_SECONDS: Final = 365 * 86_400
_NS: Final = 1_000_000_000


class SyntheticFeed:
    """Streams ``count`` bars per symbol, every symbol at each timestamp in config order.

    Parameters
    ----------
    config : SyntheticConfig
    name : str
        The feed's label in metrics and logs.
    """

    def __init__(self, config: SyntheticConfig, name: str = "synthetic") -> None:
        self.name = name
        self.symbols: tuple[str, ...] | None = tuple(config.symbols)
        self._config = config
        self._total = config.count * len(config.symbols)
        self._emitted = 0

    def progress(self) -> tuple[int, int | None]:
        """Bars produced so far and in all."""
        return self._emitted, self._total

    def location(self) -> str:
        """The feed's name: generated bars have no line."""
        return self.name

    def __iter__(self) -> Iterator[Bar]:
        config = self._config
        symbols = list(config.symbols)
        steps = config.intrabar_steps
        dt = config.bar_seconds / _YEAR_SECONDS / steps
        mu = (config.drift - 0.5 * config.volatility**2) * dt
        sigma = config.volatility * math.sqrt(dt)
        tick = config.tick_size
        tick_f = float(tick)
        volume_rate = 1.0 / config.mean_volume
        rngs = [random.Random(f"{config.seed}:{symbol}") for symbol in symbols]
        prices = [float(config.start_price)] * len(symbols)
        exp = math.exp

        def quantize(value: float) -> Decimal:
            # Prices are positive, so "or 1" is max(1, ...) at half the cost.
            return tick * (round(value / tick_f) or 1)

        ts = config.start_ns
        step_ns = config.bar_seconds * _NS
        for _ in range(config.count):
            for index, symbol in enumerate(symbols):
                gauss = rngs[index].gauss
                price = high = low = prices[index]
                open_ = quantize(price)
                for _ in range(steps):
                    price *= exp(mu + sigma * gauss(0.0, 1.0))
                    if price > high:
                        high = price
                    elif price < low:
                        low = price
                prices[index] = price
                volume = Decimal(1 + int(rngs[index].expovariate(volume_rate)))
                self._emitted += 1
                yield Bar(
                    ts=ts,
                    symbol=symbol,
                    open=open_,
                    high=quantize(high),
                    low=quantize(low),
                    close=quantize(price),
                    volume=volume,
                )
            ts += step_ns
