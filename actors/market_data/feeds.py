"""The one interface every file feed has, and the builders of file and live feeds.

A file feed is an iterable of ``Bar``/``Tick`` in timestamp order (per symbol) that
streams: iterating it opens its file, and nothing is held beyond the current row. In a
replay a journal also yields its ``Control`` messages, each in its place.
``progress()`` reports how far it got in its own unit: bytes for CSV files, rows for
Parquet and Arrow files, ``seq`` for journals, bars for synthetic feeds. :func:`open_feed` builds one.

A live feed (:class:`~actors.market_data.live.LiveFeed`) is a coroutine that emits ticks
as they happen; :func:`open_live_feed` builds one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Final, Protocol

from atrium.actors.market_data.columnar import ColumnarFeed, columnar_format
from atrium.actors.market_data.csv_feed import CsvFeed
from atrium.actors.market_data.journal import JournalFeed
from atrium.actors.market_data.live import FeedStatus, LiveFeed
from atrium.actors.market_data.live_synthetic import SyntheticLiveFeed
from atrium.actors.market_data.rejections import Rejections
from atrium.actors.market_data.synthetic import SyntheticFeed
from atrium.config.market_data import (
    COLUMNAR_FORMATS,
    FeedConfig,
    SyntheticConfig,
    SyntheticLiveConfig,
)
from atrium.runtime.clocks import Clock
from atrium.runtime.errors import FatalInputError
from atrium.runtime.messages import Bar, Control, Tick

__all__ = ("Feed", "open_feed", "open_live_feed")

_SQLITE_SIGNATURE: Final = b"SQLite format 3\x00"


class Feed(Protocol):
    """What the market data actor needs of a feed."""

    name: str
    symbols: tuple[str, ...] | None
    """The symbols the feed carries, when known before reading it (not for journals)."""

    def __iter__(self) -> Iterator[Bar | Tick | Control]: ...

    def location(self) -> str:
        """Where the record read last came from (``file:line``), for messages."""
        ...

    def progress(self) -> tuple[int, int | None]:
        """Work done and in all (``None``: not known yet), in the feed's own unit."""
        ...


def _sniffed(path: Path, source: str) -> str:
    """``journal``, ``parquet`` or ``arrow`` by the file's signature; else ``auto`` (CSV)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_SIGNATURE))
    except OSError as exc:
        raise FatalInputError(f"{source}: cannot open feed: {exc.strerror}") from None
    if head == _SQLITE_SIGNATURE:
        return "journal"
    return columnar_format(head) or "auto"


def open_feed(
    config: FeedConfig,
    *,
    base_dir: str,
    rejections: Rejections,
    log: logging.Logger,
    controls: bool = False,
) -> Feed:
    """Build the feed ``config`` describes (format ``auto`` looks at the file's first bytes).

    Relative paths are resolved against ``base_dir``. Rejected rows go to ``rejections``
    as ``<path>:<line>`` (``<path>:seq <n>`` for a journal). With ``controls`` (a replay) a
    journal also yields the operator controls it recorded.

    Raises
    ------
    FatalInputError
        When an ``auto`` feed's file cannot be opened.
    """
    name = config.feed_name
    if config.format == "synthetic":
        return SyntheticFeed(config.synthetic or SyntheticConfig(), name)
    path = Path(base_dir) / config.path
    source = config.path
    fmt: str = config.format
    if fmt == "auto":
        fmt = _sniffed(path, source)
    if fmt == "journal":
        if config.bar_seconds is not None or config.symbol is not None or config.columns:
            raise FatalInputError(
                f"{source}: is an Atrium journal; bar_seconds, symbol and columns do not apply"
            )

        def reject_event(seq: int, reason: str, problem: str) -> None:
            rejections.reject(name, f"{source}:seq {seq}", reason, problem)

        return JournalFeed(path, source, name, reject_event, controls=controls)

    if fmt in COLUMNAR_FORMATS:

        def reject_record(row: int, reason: str, problem: str) -> None:
            rejections.reject(name, f"{source}:row {row}", reason, problem)

        return ColumnarFeed(path, config, fmt, reject_record)

    def reject_row(line: int, reason: str, problem: str) -> None:
        rejections.reject(name, f"{source}:{line}", reason, problem)

    return CsvFeed(path, config, reject_row, log)


def open_live_feed(
    config: FeedConfig,
    *,
    status: FeedStatus,
    rejections: Rejections,
    clock: Clock,
    log: logging.Logger,
) -> LiveFeed:
    """Build the live feed ``config`` describes (``config.is_live`` must hold).

    ``status`` receives its connection state; bad messages go to ``rejections``.
    """
    name = config.feed_name
    if config.format == "synthetic_live":
        return SyntheticLiveFeed(
            config.synthetic_live or SyntheticLiveConfig(), name, status, clock
        )
    if config.ccxt is not None:
        # ccxt loads only when a ccxt feed runs, not for every replay.
        from atrium.actors.market_data.live_ccxt import CcxtTradeFeed  # noqa: PLC0415

        return CcxtTradeFeed(config.ccxt, name, status, rejections, log)
    if config.websocket is None:
        raise ValueError(f"feed {name!r} is not a live feed (format {config.format!r})")
    # websockets (and ssl) load only when a WebSocket feed runs, not for every replay.
    from atrium.actors.market_data.live_websocket import WebSocketFeed  # noqa: PLC0415

    return WebSocketFeed(config.websocket, name, status, rejections, log)
