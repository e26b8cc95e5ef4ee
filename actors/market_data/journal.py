"""Replay the market data of a recorded Atrium journal, exactly as the live run saw it.

Reads the ``Bar`` and ``Tick`` events in ``seq`` order, one row each or many to a block
(:mod:`atrium.runtime.journal_market`), through streaming cursors, read-only: a journal is
never changed by reading it. A journal that references its market data in other files
holds none to read here; ``atrium replay`` reads those files instead
(:mod:`atrium.runtime.market_refs`), and anything else is refused. A file that is not an Atrium journal of the schema versions this Atrium
writes, or is damaged, stops the feed with that module's message. Decoding runs each
message's own checks (positive prices, high and low around open and close), so a payload
that fails them is ``UNPARSEABLE``; on top, each symbol's bars must be strictly later
than its previous bar and ticks never earlier. The number after the file name in a
message is the row's ``seq``.

With ``controls``, as in a replay, the journal's operator controls (halt, resume,
reduce_only, flatten; also the halt recovery sent) come too, in their place between the
market data, so a replay of a session's journal replays the session: the same fills and
the same refusals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import msgspec

from atrium.actors.market_data.validation import UNPARSEABLE, Problem, order_problem
from atrium.runtime.codec import decode
from atrium.runtime.errors import FatalInputError
from atrium.runtime.journal import JournalError
from atrium.runtime.journal_market import iter_records, last_record_seq, market_data_mode
from atrium.runtime.journal_read import open_readonly
from atrium.runtime.messages import Bar, Control, Tick

__all__ = ("JournalFeed",)

_MARKET_KINDS: Final = ("Bar", "Tick")
_ALL_KINDS: Final = ("Bar", "Tick", "Control")


class JournalFeed:
    """Streams the ``Bar``/``Tick`` events of a journal file (and its ``Control`` messages).

    Parameters
    ----------
    path : Path
        The journal file.
    source : str
        The file as the user named it, for messages.
    name : str
        The feed's label in metrics and logs.
    reject : callable
        ``reject(seq, reason, problem)`` for an event that fails validation.
    controls : bool
        Also the ``Control`` events (a replay); not live, where recovery sends them.
    """

    def __init__(
        self,
        path: Path,
        source: str,
        name: str,
        reject: Callable[[int, str, str], None],
        *,
        controls: bool = False,
    ) -> None:
        self.name = name
        self.symbols: tuple[str, ...] | None = None  # whatever the journal holds
        self._path = path
        self._source = source
        self._reject = reject
        self._seq = 0
        self._last_seq: int | None = None
        self._kinds = _ALL_KINDS if controls else _MARKET_KINDS

    def progress(self) -> tuple[int, int | None]:
        """The ``seq`` read so far and the journal's last ``seq``."""
        return self._seq, self._last_seq

    def location(self) -> str:
        """``file:seq N`` of the event read last."""
        return f"{self._source}:seq {self._seq}"

    def __iter__(self) -> Iterator[Bar | Tick | Control]:
        if not self._path.is_file():
            raise FatalInputError(f"{self._source}: cannot open feed: no such file")
        try:
            connection = open_readonly(self._path, source=self._source)
        except JournalError as exc:
            raise FatalInputError(str(exc)) from None
        try:
            if market_data_mode(connection, self._source) == "references":
                raise FatalInputError(
                    f"{self._source}: its market data is referenced, not recorded in it; "
                    f"replay it alone with `atrium replay --feed {self._source}`"
                )
            self._last_seq = last_record_seq(connection)
            records = iter_records(connection, self._source, kinds=self._kinds)
            yield from self._events(records)
            self._seq = self._last_seq
        except JournalError as exc:
            raise FatalInputError(str(exc)) from None
        finally:
            connection.close()

    def _events(
        self, rows: Iterator[tuple[int, int, str, bytes]]
    ) -> Iterator[Bar | Tick | Control]:
        last: dict[tuple[type, str], int] = {}
        for seq, _, kind, payload in rows:
            self._seq = seq
            message, problem = self._check(kind, payload, last)
            if problem is not None:
                self._reject(seq, *problem)
                continue
            assert message is not None
            if not isinstance(message, Control):
                last[type(message), message.symbol] = message.ts
            yield message

    def _check(
        self, kind: str, payload: bytes, last: dict[tuple[type, str], int]
    ) -> tuple[Bar | Tick | Control | None, Problem | None]:
        try:
            message = decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return None, (UNPARSEABLE, f"{kind} payload does not decode: {exc}")
        if not isinstance(message, Bar | Tick | Control) or type(message).__name__ != kind:
            found = type(message).__name__
            return None, (UNPARSEABLE, f"row kind is {kind} but the payload holds a {found}")
        if isinstance(message, Control):  # in the journal's order, whatever its time
            return message, None
        previous = last.get((type(message), message.symbol))
        problem = order_problem(message.ts, previous, allow_equal=type(message) is Tick)
        return (None, problem) if problem is not None else (message, None)
