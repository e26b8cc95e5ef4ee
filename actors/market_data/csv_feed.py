"""A CSV file feed: open, read the header, pick the parser, stream rows, report progress.

The file is read as UTF-8 (a byte order mark tolerated) line by line, each at most
``max_line_length`` characters: a longer line is read past in bounded chunks and
rejected, so one huge line cannot exhaust memory. The csv module parses the lines.
Problems with the file as a whole (missing, not text, no usable header) stop the run
whatever the ``on_error`` policy; problems with a row (a line too long included) go to
the policy with the row's line number.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Final, TextIO

from atrium.actors.market_data.adjust import RowTap, adjust_bars, split_events
from atrium.actors.market_data.aggregate import aggregate_ticks
from atrium.actors.market_data.csv_bars import parse_bars
from atrium.actors.market_data.csv_ticks import parse_ticks
from atrium.actors.market_data.layout import Layout, resolve_layout
from atrium.actors.market_data.timestamps import Timestamper
from atrium.actors.market_data.validation import LINE_TOO_LONG
from atrium.config.market_data import FeedConfig
from atrium.runtime.errors import FatalInputError
from atrium.runtime.messages import Bar, Tick

__all__ = ("CsvFeed",)

_NS = 1_000_000_000
#: Characters read at a time while reading past a line that is too long.
_SKIP_CHUNK: Final = 1 << 16
#: How a line may end (the file is read with ``newline=""``: endings kept as they are).
_LINE_ENDS: Final = ("\n", "\r")


class CsvFeed:
    """Streams the bars or ticks of one CSV file (one symbol).

    Parameters
    ----------
    path : Path
        The file, resolved against the config's base directory.
    config : FeedConfig
        The feed's settings; ``config.path`` is how messages name the file.
    reject : callable
        ``reject(line, reason, problem)`` for a bad row.
    log : logging.Logger
        Where a repaired header is reported.
    """

    def __init__(
        self,
        path: Path,
        config: FeedConfig,
        reject: Callable[[int, str, str], None],
        log: logging.Logger,
    ) -> None:
        self.name = config.feed_name
        self.symbols: tuple[str, ...] | None = (config.feed_symbol,)
        self._path = path
        self._config = config
        self._reject = reject
        self._log = log
        self._position: Callable[[], int] | None = None
        self._line: Callable[[], int] | None = None
        self._done = 0
        self._size: int | None = None
        self._skipped_lines = 0

    def progress(self) -> tuple[int, int | None]:
        """Bytes of the file read so far and its size (read ahead by up to one buffer)."""
        position = self._position
        return (position() if position is not None else self._done), self._size

    def location(self) -> str:
        """``file:line`` of the row read last (for a bar made of ticks: the closing tick)."""
        line = self._line
        return self._config.path if line is None else f"{self._config.path}:{line()}"

    def _capped_lines(self, handle: TextIO) -> Iterator[str]:
        """The file's lines; one over ``max_line_length`` is rejected, never held whole."""
        cap = self._config.max_line_length
        number = 0
        while line := handle.readline(cap + 1):
            number += 1
            if len(line) > cap and not line.endswith(_LINE_ENDS):
                while line and not line.endswith(_LINE_ENDS):
                    line = handle.readline(_SKIP_CHUNK)
                self._skipped_lines += 1
                self._reject(
                    number,
                    LINE_TOO_LONG,
                    f"line longer than {cap} characters; raise max_line_length of the feed "
                    "if it is meant",
                )
                continue
            yield line

    def __iter__(self) -> Iterator[Bar | Tick]:
        source = self._config.path
        try:
            raw = self._path.open("rb")
        except OSError as exc:
            raise FatalInputError(f"{source}: cannot open feed: {exc.strerror}") from None
        with raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
            self._skipped_lines = 0
            handle = self._capped_lines(text)
            self._size = self._path.stat().st_size
            self._position = raw.tell
            try:
                yield from self._records(handle, source)
            except UnicodeDecodeError as exc:
                raise FatalInputError(f"{source}: not UTF-8 text: {exc.reason}") from None
            except csv.Error as exc:
                raise FatalInputError(f"{source}: unreadable CSV: {exc}") from None
            finally:
                self._position = None
            self._done = self._size

    def _bars(
        self,
        rows: Iterable[list[str]],
        layout: Layout,
        stamper: Timestamper,
        reject_row: Callable[[str, str], None],
    ) -> Iterator[Bar]:
        """The file's bars, adjusted as the config says (see :mod:`.adjust`)."""
        config = self._config
        if config.adjust == "none":
            return parse_bars(rows, layout, stamper, config.feed_symbol, reject_row)
        splits = None
        if config.adjust == "splits":
            splits = split_events(
                self._path,
                delimiter=config.delimiter,
                max_line_length=config.max_line_length,
                stamp=layout.stamp,
                close_index=layout.fields[3],
                adj_index=layout.adj_close,
                stamper=stamper,
            )
        tap = RowTap(rows)
        bars = parse_bars(tap, layout, stamper, config.feed_symbol, reject_row)
        return adjust_bars(bars, tap, layout.adj_close, splits, reject_row)

    def _records(self, handle: Iterator[str], source: str) -> Iterator[Bar | Tick]:
        config = self._config
        if csv.field_size_limit() < config.max_line_length:
            # csv stops at a field over its own limit (128 Ki characters) with an error that
            # ends the run whatever on_error says; a line within the cap reaches the checks.
            csv.field_size_limit(config.max_line_length)
        reader = csv.reader(handle, delimiter=config.delimiter)
        self._line = lambda: reader.line_num + self._skipped_lines
        header = next(reader, None)
        if header is None:
            raise FatalInputError(f"{source}: empty file; expected a header row")
        first = next(reader, None)
        layout = resolve_layout(
            header, first, fmt=config.format, columns=config.columns, source=source
        )
        if layout.repaired:
            self._log.warning(
                "%s: the header names %d columns but rows have %d with a time after the "
                "date; reading the columns as %s",
                source,
                len(header),
                layout.width,
                ",".join(layout.header),
            )
        if config.adjust != "none" and (layout.is_ticks or layout.adj_close < 0):
            raise FatalInputError(
                f"{source}: adjust = {config.adjust!r} needs an Adj Close column, and the "
                f"header {','.join(layout.header)} has none; name it with columns.adj_close "
                "or set adjust = 'none'"
            )
        if config.bar_seconds is not None and not layout.is_ticks:
            raise FatalInputError(
                f"{source}: bar_seconds aggregates ticks, but the file holds {layout.format} "
                "bars; drop bar_seconds or set format = 'ticks'"
            )
        rows = itertools.chain((first,), reader) if first is not None else iter(())
        stamper = Timestamper(config.timezone, config.timestamp_format)
        reject = self._reject

        def reject_row(reason: str, problem: str) -> None:
            reject(reader.line_num + self._skipped_lines, reason, problem)

        symbol = config.feed_symbol
        if not layout.is_ticks:
            yield from self._bars(rows, layout, stamper, reject_row)
            return
        ticks = parse_ticks(rows, layout, stamper, symbol, reject_row)
        if config.bar_seconds is None:
            yield from ticks
        else:
            yield from aggregate_ticks(ticks, config.bar_seconds * _NS)
