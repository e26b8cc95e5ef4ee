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
_TWO_PI: Final = 2.0 * math.pi
_cos, _sin, _sqrt, _log, _exp = math.cos, math.sin, math.sqrt, math.log, math.exp


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
        walks = [_Walk(config, symbol) for symbol in config.symbols]
        ts = config.start_ns
        step_ns = config.bar_seconds * _NS
        for _ in range(config.count):
            for walk in walks:
                self._emitted += 1
                yield walk.bar(ts)
            ts += step_ns


class _Walk:
    """One symbol's path: its generator, its last price, and the bar's arithmetic.

    A bar costs a few microseconds, a replay's largest share outside the actors, so the
    normal draws are ``random.gauss``'s own (the same pair of numbers from the same two
    uniforms, the second kept for the next step) without a method call each, and a price
    equal to one already turned into ``Decimal`` (the open is the last close; the high or
    low is often the open or the close) reuses that ``Decimal``.
    """

    __slots__ = (
        "_close",
        "_expovariate",
        "_mu",
        "_normal",
        "_price",
        "_random",
        "_sigma",
        "_steps",
        "_symbol",
        "_tick",
        "_tick_f",
        "_volume_rate",
    )

    def __init__(self, config: SyntheticConfig, symbol: str) -> None:
        steps = config.intrabar_steps
        dt = config.bar_seconds / _YEAR_SECONDS / steps
        self._steps = steps
        self._mu = (config.drift - 0.5 * config.volatility**2) * dt
        self._sigma = config.volatility * math.sqrt(dt)
        self._tick = config.tick_size
        self._tick_f = float(config.tick_size)
        self._volume_rate = 1.0 / config.mean_volume
        rng = random.Random(f"{config.seed}:{symbol}")
        self._random = rng.random
        self._expovariate = rng.expovariate
        self._symbol = symbol
        self._price = float(config.start_price)
        self._close = self._quantize(self._price)
        # The second number of the last pair of normal draws, not used yet.
        self._normal: float | None = None

    def _quantize(self, value: float) -> Decimal:
        # Prices are positive, so "or 1" is max(1, ...) at half the cost.
        return self._tick * (round(value / self._tick_f) or 1)

    def bar(self, ts: int) -> Bar:
        """The next bar: ``intrabar_steps`` log-normal steps from the last close."""
        uniform, mu, sigma, normal = self._random, self._mu, self._sigma, self._normal
        start = price = high = low = self._price
        for _ in range(self._steps):
            if normal is None:  # random.gauss: Box-Muller, two numbers per two uniforms
                angle = uniform() * _TWO_PI
                radius = _sqrt(-2.0 * _log(1.0 - uniform()))
                draw, normal = _cos(angle) * radius, _sin(angle) * radius
            else:
                draw, normal = normal, None
            price *= _exp(mu + sigma * draw)
            if price > high:
                high = price
            elif price < low:
                low = price
        self._price, self._normal = price, normal
        open_ = self._close
        close = self._close = self._quantize(price)
        volume = Decimal(1 + int(self._expovariate(self._volume_rate)))
        return Bar(
            ts=ts,
            symbol=self._symbol,
            open=open_,
            high=open_ if high == start else close if high == price else self._quantize(high),
            low=open_ if low == start else close if low == price else self._quantize(low),
            close=close,
            volume=volume,
        )
