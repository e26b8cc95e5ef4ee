"""Market data in blocks: many records to a journal row instead of one row each.

A block is one row of the ``market_data`` table: the ``seq`` and ``ts`` of its first and
last record, how many it holds, and ``block``, a msgpack array of ``[seq, ts, kind,
payload]`` arrays -- exactly the columns an ``events`` row would have had, ``payload``
the bytes that were sent. A reader that merges blocks with the ``events`` rows by
``seq`` gets the stream a journal of one row per message holds.

:data:`BLOCK_RECORDS` records make a block: at about 110 bytes a bar, some 110 KB a row.
A row costs SQLite a key, a record header and a B-tree cell, and a statement a thread hop
(see ``_ROWS_PER_INSERT`` in :mod:`atrium.runtime.journal`), so per-record costs vanish
past a few hundred records; a reader decodes a whole block to reach one record, which at
a thousand records is well under a millisecond.
"""

from __future__ import annotations

from typing import Final

import msgspec

__all__ = ("BLOCK_RECORDS", "BlockBuffer", "BlockRow", "Record", "decode_block")

#: Records in a full block.
BLOCK_RECORDS: Final = 1024

#: ``(seq, ts, kind, payload)``: an event row, in or out of a block.
Record = tuple[int, int, str, bytes]
#: ``(first_seq, last_seq, first_ts, last_ts, records, block)``: a ``market_data`` row.
BlockRow = tuple[int, int, int, int, int, bytes]

_encode: Final = msgspec.msgpack.Encoder().encode
_decoder: Final = msgspec.msgpack.Decoder(list[tuple[int, int, str, bytes]])


def decode_block(block: bytes) -> list[Record]:
    """The records of a ``market_data`` row's ``block``, in ``seq`` order.

    Raises
    ------
    msgspec.DecodeError
        When the bytes are not a block (damage).
    """
    return _decoder.decode(block)


class BlockBuffer:
    """Gathers market data records into blocks of ``size``; full blocks wait in :attr:`full`."""

    def __init__(self, size: int = BLOCK_RECORDS) -> None:
        self.size = size
        self._open: list[Record] = []
        #: Finished blocks, encoded, not yet handed to SQLite.
        self.full: list[BlockRow] = []

    def add(self, record: Record) -> bool:
        """Add ``record``; True when it completed a block."""
        records = self._open
        records.append(record)
        if len(records) < self.size:
            return False
        self.close_open()
        return True

    def close_open(self) -> None:
        """Finish the block being gathered, however few records it has (at the end)."""
        records = self._open
        if records:
            first, last = records[0], records[-1]
            self.full.append((first[0], last[0], first[1], last[1], len(records), _encode(records)))
            self._open = []

    def take(self) -> list[BlockRow]:
        """The finished blocks, handed over once."""
        rows, self.full = self.full, []
        return rows
