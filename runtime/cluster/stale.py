"""Old market data may update a restarted role's strategies but must not make it trade.

A role that was down finds on the stream the market data it missed and handles it when
it starts again, right after rebuilding. Its strategies see every bar, so their
indicators are right, but a cross that happened while the role was down is history:
trading it now would be at a price long gone. So an intent sent while the role handles
market data older than ``[cluster].max_market_data_age_seconds`` (by the wall clock) is
held back at the bridge and counted. The strategy numbered and counted it as it will
again when a later run rebuilds from the same data, so the ids stay those of every run.
Live only: a replay's clock is its data's.
"""

from __future__ import annotations

import logging

from atrium.runtime.actor import ActorContext
from atrium.runtime.cluster.wiring import RoleWiring
from atrium.runtime.messages import Bar, Message, OrderIntent, Tick
from atrium.runtime.metrics import counter

__all__ = ("StaleGuard",)

log = logging.getLogger("atrium.cluster")


class StaleGuard:
    """Tells the bridge which intents to hold back: those old market data caused."""

    def __init__(self, context: ActorContext, wiring: RoleWiring) -> None:
        age = wiring.cluster.max_market_data_age_seconds
        self._age = age or 0.0
        self._limit = None if age is None or context.mode != "live" else round(age * 1e9)
        self._clock = context.clock
        self._held = counter(
            context.registry,
            "atrium_cluster_stale_intents",
            "Order intents held back: the market data that caused them was older than "
            "max_market_data_age_seconds (a restarted role catching up)",
            ("role",),
            while_rebuilding=True,
        ).labels(wiring.role)
        # The input being handled is old market data; intents held back in this burst.
        self._stale = False
        self._burst = 0

    def note(self, message: Message) -> None:
        """Called with each input from NATS before the bus has it."""
        if self._limit is None:
            return
        market = isinstance(message, Bar | Tick)
        self._stale = market and self._clock.now_ns() - message.ts > self._limit
        if market and not self._stale and self._burst:
            log.warning("market data is current again; held back %d intents", self._burst)
            self._burst = 0

    def holds(self, message: Message) -> bool:
        """Whether ``message``, about to leave the process, is an intent to hold back."""
        if not self._stale or not isinstance(message, OrderIntent):
            return False
        if not self._burst:
            log.warning(
                "holding back the intents of market data older than %gs (first: %s %s of "
                "strategy %s); the role is catching up on what it missed",
                self._age,
                message.side,
                message.symbol,
                message.strategy,
            )
        self._burst += 1
        self._held.inc()
        return True
