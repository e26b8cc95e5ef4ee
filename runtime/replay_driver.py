"""A replay's time: the clock moves to each market data input as it enters the pipeline.

The market data actor only reads and sends its feeds; the runtime owns the replay's
clock. :func:`drive_replay` hooks the dispatcher so every bar or tick moves the
:class:`~runtime.clocks.SimClock` to its timestamp (never back) before it enters, so its
handlers, and the timers it wakes, see the time of the record. Other inputs (an operator
control carries wall time) leave the clock alone. The dispatcher then settles the input,
venue first, before the next may enter (see :mod:`runtime.dispatch`).
"""

from __future__ import annotations

from atrium.runtime.clocks import Clock, SimClock
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.errors import TopologyError
from atrium.runtime.messages import Message

__all__ = ("drive_replay",)


def drive_replay(dispatcher: Dispatcher, clock: Clock) -> None:
    """Make ``dispatcher`` move ``clock`` to each market data input's time.

    Raises
    ------
    TopologyError
        When ``clock`` is not a SimClock: a replay's time must come from its records.
    """
    if not isinstance(clock, SimClock):
        raise TopologyError(f"replay needs a SimClock, got {type(clock).__name__}")
    now_ns, advance_to = clock.now_ns, clock.advance_to

    def enter(message: Message) -> None:
        if message.ts > now_ns():
            advance_to(message.ts)

    dispatcher.on_market_input = enter
