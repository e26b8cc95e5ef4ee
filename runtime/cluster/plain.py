"""Live market data on plain subjects (``cluster.market_data = "subjects"``): what waits
to go out, and what came in, kept bounded for a role that falls behind the source.

Each NATS message holds one bar or tick in a small envelope with its source's run and
its number on the subject, from which a receiver counts what it missed: not in NATS
headers, which the client builds and parses at about the cost of the message itself.
"""

from __future__ import annotations

from collections import deque
from typing import Final

import anyio
import msgspec

from atrium.runtime.messages import Bar, Message, Tick

__all__ = ("MARKET_BACKLOG", "PlainMarket", "PlainRecord", "unpack")

#: Live market data from plain subjects waiting for the bus before older ticks are
#: dropped for newer ones of their symbol.
MARKET_BACKLOG: Final = 1024


class PlainRecord(msgspec.Struct, array_like=True, frozen=True):
    """One NATS message of market data on a plain subject (also what the recording stream
    ``<NAMESPACE>_MD`` stores): the sending run, its number for the message on the
    subject, and the bar or tick."""

    run: str
    seq: int
    message: Bar | Tick


_encode: Final = msgspec.msgpack.Encoder().encode
_unpack: Final = msgspec.msgpack.Decoder(PlainRecord).decode
_bare: Final = msgspec.msgpack.Decoder(Bar | Tick).decode


def unpack(payload: bytes) -> PlainRecord:
    """The record a plain subject's message holds; a bare bar or tick, as an earlier
    Atrium sent it (numbered in a NATS header, not read here), comes numbered 0, which
    counts no gap. Raises ``msgspec.DecodeError`` on anything else."""
    try:
        return _unpack(payload)
    except msgspec.DecodeError:
        return PlainRecord("", 0, _bare(payload))


class PlainMarket:
    """Live market data on plain subjects: what waits to go out, and what came in."""

    def __init__(self, run: str) -> None:
        self.outgoing: list[tuple[str, Bar | Tick]] = []
        self.out_ready = anyio.Event()
        self._run = run
        self._sent: dict[str, int] = {}
        # Received, not handled yet, in order of arrival.
        self.inbox: deque[tuple[str, Message]] = deque()
        self.in_ready = anyio.Event()
        self._seen: dict[str, tuple[str, int]] = {}

    def put_out(self, subject: str, message: Bar | Tick) -> None:
        self.outgoing.append((subject, message))
        self.out_ready.set()

    def pack(self, subject: str, message: Bar | Tick) -> bytes:
        """``message`` as the next NATS message on ``subject``, numbered."""
        seq = self._sent[subject] = self._sent.get(subject, 0) + 1
        return _encode(PlainRecord(self._run, seq, message))

    def take_in(self, subject: str, message: Message) -> int:
        """Keep ``message`` for the bus; returns how many ticks that superseded.

        Up to :data:`MARKET_BACKLOG` waiting, every message is kept; beyond, only the
        newest tick per subject and every bar, so a role behind bears any rate.
        """
        self.inbox.append((subject, message))
        self.in_ready.set()
        if len(self.inbox) <= MARKET_BACKLOG:
            return 0
        newest = {subject: i for i, (subject, held) in enumerate(self.inbox) if type(held) is Tick}
        kept = deque(
            (subject, held)
            for i, (subject, held) in enumerate(self.inbox)
            if type(held) is not Tick or newest[subject] == i
        )
        skipped = len(self.inbox) - len(kept)
        self.inbox = kept
        return skipped

    def gap(self, subject: str, record: PlainRecord) -> int:
        """How many messages of ``subject`` were missed before ``record``.

        A new run of the source starts its numbering again: no gap across runs.
        """
        run, seq = record.run, record.seq
        last = self._seen.get(subject)
        self._seen[subject] = (run, seq)
        if last is None or last[0] != run or seq <= last[1]:
            return 0
        return seq - last[1] - 1
