"""Seeded ticks at a steady rate in wall time: a live feed for demos with no network.

:class:`SyntheticWalk` is the price path, pure and timeless: one ``random.Random(seed)``
drives a geometric random walk per symbol (no drift, the configured annualised
volatility over each symbol's time between ticks), the symbols take turns, and each
symbol's first tick is ``start_price``. Prices are computed in float and turned into
``Decimal`` only as whole numbers of ``tick_size``, never below one tick; the float state
never falls below one tick either, so the walk can leave the floor again.

:class:`SyntheticLiveFeed` paces the walk on the actor's clock: tick ``k`` is due
``k / rate_per_second`` after the start, measured from the start rather than from the
previous tick so late wake-ups do not add up; a tick is stamped with the clock's time
when it is sent (never earlier than the previous one, should wall time step back). A
feed more than a second behind (the event loop stalled, the machine slept) starts its
schedule afresh instead of sending the backlog at once, and so does one whose clock
stepped back by more than a second, instead of waiting for its old schedule.
"""

from __future__ import annotations

import math
import random
from typing import Final

import anyio

from atrium.actors.market_data.live import Emit, FeedStatus
from atrium.actors.market_data.resume import Delivered
from atrium.config.market_data import SyntheticLiveConfig
from atrium.runtime.clocks import Clock
from atrium.runtime.messages import Tick

__all__ = ("SyntheticLiveFeed", "SyntheticWalk")

_YEAR_SECONDS: Final = 365 * 86_400
_NS: Final = 1_000_000_000
#: The most a late feed catches up on; beyond it the schedule restarts.
_MAX_BACKLOG_NS: Final = _NS
#: The shortest sleep between ticks: what an event loop can time (see ``run``).
_MIN_SLEEP_NS: Final = 1_000_000
#: Ticks sent in one burst before the feed lets other tasks run.
_YIELD_EVERY: Final = 32


class SyntheticWalk:
    """The seeded price path: :meth:`next` gives the following tick, whatever the time."""

    def __init__(self, config: SyntheticLiveConfig) -> None:
        self._symbols = list(config.symbols)
        self._size = config.size
        self._tick = config.tick_size
        self._tick_f = float(config.tick_size)
        self._prices = [float(config.start_price)] * len(self._symbols)
        # Each symbol moves once per round of len(symbols) ticks.
        dt = len(self._symbols) / config.rate_per_second / _YEAR_SECONDS
        self._sigma = config.volatility * math.sqrt(dt)
        self._mu = -0.5 * self._sigma**2  # no drift: the median price stays put
        self._rng = random.Random(config.seed)
        self._turn = 0

    def next(self, ts: int) -> Tick:
        """The next tick, stamped ``ts``; then that symbol's price takes one step."""
        turn = self._turn
        self._turn = (turn + 1) % len(self._symbols)
        price = self._prices[turn]
        tick = Tick(
            ts=ts,
            symbol=self._symbols[turn],
            price=self._tick * (round(price / self._tick_f) or 1),
            size=self._size,
        )
        stepped = price * math.exp(self._mu + self._sigma * self._rng.gauss(0.0, 1.0))
        self._prices[turn] = max(stepped, self._tick_f)
        return tick


class SyntheticLiveFeed:
    """Sends :class:`SyntheticWalk` ticks at ``rate_per_second`` until cancelled.

    Parameters
    ----------
    config : SyntheticLiveConfig
    name : str
        The feed's label in metrics and logs.
    status : FeedStatus
        Connected while running; each tick counts as a message.
    clock : Clock
        The actor's clock: stamps the ticks and paces them.
    """

    def __init__(
        self, config: SyntheticLiveConfig, name: str, status: FeedStatus, clock: Clock
    ) -> None:
        self.name = name
        self.status = status
        self._config = config
        self._clock = clock

    def resume(self, delivered: Delivered) -> None:
        """Nothing to skip: ticks are stamped with wall time, later than any sent before."""

    async def run(self, emit: Emit) -> None:
        """Emit ticks on schedule until cancelled."""
        clock, status = self._clock, self.status
        walk = SyntheticWalk(self._config)
        interval_ns = _NS / self._config.rate_per_second
        origin = clock.now_ns()
        count = burst = 0
        last_ts = origin
        status.opened()
        try:
            while True:
                due = origin + round(count * interval_ns)
                now = clock.now_ns()
                if now < due:
                    if due - now > interval_ns + _MAX_BACKLOG_NS:
                        origin, count = now, 0  # wall time stepped back: start afresh
                    else:
                        # Event loops time in whole milliseconds (uvloop returns at once
                        # from a shorter sleep, which would spin): above 1,000 ticks/s,
                        # wake once a millisecond and send what fell due meanwhile.
                        await clock.sleep_until(max(due, now + _MIN_SLEEP_NS))
                    burst = 0
                    continue  # read the time again: the wake-up may be late
                if now - due > _MAX_BACKLOG_NS:
                    origin, count = now, 0
                burst += 1
                if burst >= _YIELD_EVERY:
                    # Within a burst of ticks that fell due, the other tasks (HTTP API,
                    # journal writer) get a turn every _YIELD_EVERY ticks, not every tick.
                    burst = 0
                    await anyio.lowlevel.checkpoint()
                    continue  # read the time again: the tick is made after the pause
                last_ts = max(now, last_ts)
                status.received()
                await emit(walk.next(last_ts))
                count += 1
        finally:
            status.closed()
