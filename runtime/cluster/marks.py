"""The market data the core takes from plain subjects, kept on the stream in batches.

Live with ``cluster.market_data = "subjects"``, ticks go from the source straight to
every role that wants them and are not stored. A strategy role restarted after a crash
misses the ticks since its snapshot (only its indicators are the worse for it). The
core's state is another matter: its marks, the paper venue's fills on them, risk's
drawdown and sizing that reads prices must come out of a rebuild as they were, or the
state check keeps it from going live. So the core does not handle a tick when it
receives it. It gathers what it takes for a few milliseconds, keeps that on the stream as
one message (``<ns>.marks.<role>``), and handles it when its consumer takes it back, in
stream order among the intents, controls and venue reports, the place where every later
run of the role handles it too. The cost is one JetStream round trip before the core sees
a price, and one stored message per batch, not per tick.
"""

from __future__ import annotations

from typing import Final

import anyio
import msgspec

from atrium.runtime.messages import AnyMessage, Message, Tick

__all__ = ("MARKS_LINGER", "MarkBatches")

#: Seconds a batch gathers ticks before it goes out: at most 100 stored messages a
#: second, whatever the tick rate.
MARKS_LINGER: Final = 0.01
#: Messages kept and not yet handled back, past which no batch goes out and what waits
#: keeps only the newest tick per symbol: the core takes marks at the rate it handles
#: them, and an intent never queues behind more than this many in its stream.
MARKS_IN_FLIGHT: Final = 256

_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(list[AnyMessage])


class MarkBatches:
    """Market data taken and not yet kept, in the order it was taken."""

    def __init__(self) -> None:
        self._pending: list[Message] = []
        self._in_flight = 0
        self.ready = anyio.Event()

    def add(self, message: Message) -> int:
        """Keep ``message`` for the next batch; returns how many ticks waiting it made
        superseded (the core is behind: only the newest tick per symbol waits)."""
        pending = self._pending
        pending.append(message)
        self.ready.set()
        if len(pending) <= MARKS_IN_FLIGHT:
            return 0
        newest = {held.symbol: i for i, held in enumerate(pending) if type(held) is Tick}
        self._pending = [
            held
            for i, held in enumerate(pending)
            if type(held) is not Tick or newest[held.symbol] == i
        ]
        return len(pending) - len(self._pending)

    def take(self) -> bytes | None:
        """The next batch, encoded; None while nothing waits or too much is in flight."""
        room = MARKS_IN_FLIGHT - self._in_flight
        if not self._pending or room <= 0:
            self.ready = anyio.Event()
            return None
        batch, self._pending = self._pending[:room], self._pending[room:]
        self._in_flight += len(batch)
        return _encoder.encode(batch)

    def came_back(self, count: int) -> None:
        """``count`` messages of a batch this run kept were handled: room for more."""
        self._in_flight = max(0, self._in_flight - count)
        if self._pending:
            self.ready.set()

    @staticmethod
    def unpack(payload: bytes) -> list[AnyMessage]:
        """The messages of a batch; raises ``msgspec.DecodeError`` when it is not one."""
        return _decoder.decode(payload)
