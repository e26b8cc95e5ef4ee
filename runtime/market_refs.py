"""A replay's market data read from files: referenced in its journal, not copied.

A replay over CSV files (or a seeded synthetic generator) records, per feed, where the
data came from and which part the run used: the path as given and resolved, the file's
size and SHA-256, and the records the feed sent (count, first and last timestamp). The
``[market_data]`` section as run (paths resolved) goes with them, so ``atrium replay
--feed journal.sqlite`` reads the same files the same way, after checking each is still
the file the run read, and stops where the run stopped (``max_records``).

A synthetic feed has no file: its settings, seed included, are its reference, and a
replay generates it again. That takes the generator of the Atrium that wrote the journal
(``sessions`` names its version); the record counts and timestamps are checked, prices
are not.

A journal feed cannot be referenced this way (it may still be growing, its ``-wal``
holds part of it, and it brings controls), so a replay of one copies its market data in
blocks, as ``--record-market-data`` does.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Final, Protocol, runtime_checkable

import msgspec

from atrium.config.market_data import FeedConfig, MarketDataConfig
from atrium.runtime.errors import AtriumError
from atrium.runtime.journal import MarketDataMode
from atrium.runtime.journal_market import market_data_mode
from atrium.runtime.journal_read import SQLITE_MAGIC, open_readonly, reading

__all__ = (
    "FeedRange",
    "FeedRanges",
    "FeedReference",
    "Referenced",
    "check_ranges",
    "file_identity",
    "is_journal_feed",
    "read_references",
    "reference_rows",
    "references",
    "storage_mode",
)

_CHUNK: Final = 1 << 20
_COLUMNS: Final = "feed, name, path, resolved, size, sha256, records, first_ts, last_ts"


class FeedRange(msgspec.Struct, frozen=True, kw_only=True):
    """The records one file feed sent in a run: how many, the first and last timestamp."""

    records: int
    first_ts: int | None
    last_ts: int | None


@runtime_checkable
class FeedRanges(Protocol):
    """A market data actor that tells what each file feed sent (by ``feeds`` position)."""

    def feed_ranges(self) -> dict[int, FeedRange]: ...


class FeedReference(msgspec.Struct, frozen=True, kw_only=True):
    """One ``market_data_refs`` row: a feed of the run, its file, and the records used.

    ``path``, ``resolved``, ``size`` and ``sha256`` are empty (``""``, ``None``) for a
    synthetic feed.
    """

    feed: int
    name: str
    path: str
    resolved: str
    size: int | None
    sha256: str | None
    records: int
    first_ts: int | None
    last_ts: int | None

    def row(self) -> tuple[object, ...]:
        """The values in ``market_data_refs`` column order."""
        return msgspec.structs.astuple(self)

    @property
    def range(self) -> FeedRange:
        return FeedRange(records=self.records, first_ts=self.first_ts, last_ts=self.last_ts)


class Referenced(msgspec.Struct, frozen=True, kw_only=True):
    """A journal's references: the section to run again, and what it must reproduce."""

    section: MarketDataConfig
    feeds: tuple[FeedReference, ...]


def file_identity(path: Path) -> tuple[int, str]:
    """``(size, SHA-256 hex)`` of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def is_journal_feed(feed: FeedConfig, path: Path) -> bool:
    """Whether ``feed`` reads an Atrium journal (format ``journal``, or ``auto`` and SQLite)."""
    if feed.format != "auto":
        return feed.format == "journal"
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False  # the feed reports it when it opens the file


def storage_mode(section: MarketDataConfig | None, *, copy: bool) -> MarketDataMode:
    """How a replay keeps the market data of ``section`` (None: this process reads none).

    References for files and synthetic feeds; blocks when asked (``copy``) or when a
    feed is a journal; rows when the market data does not come from this process's files.
    """
    if section is None:
        return "rows"
    if copy:
        return "blocks"
    base = Path(section.base_dir)
    if any(is_journal_feed(feed, base / feed.path) for feed in section.feeds if feed.path):
        return "blocks"
    return "references"


def _resolved(section: MarketDataConfig) -> MarketDataConfig:
    """``section`` with every feed path absolute, so it reads the same files from anywhere."""
    base = Path(section.base_dir)
    feeds = [
        msgspec.structs.replace(feed, path=str((base / feed.path).resolve())) if feed.path else feed
        for feed in section.feeds
    ]
    return msgspec.structs.replace(section, feeds=feeds)


def references(
    section: MarketDataConfig, ranges: dict[int, FeedRange]
) -> tuple[str, list[FeedReference]]:
    """The section as run (JSON, paths resolved) and a reference per feed, files hashed now.

    Called when the run finished: every file was just read, so it exists and is cached.
    """
    base = Path(section.base_dir)
    feeds = []
    for index, feed in enumerate(section.feeds):
        size: int | None = None
        sha256: str | None = None
        where = ""
        if feed.path:
            path = (base / feed.path).resolve()
            size, sha256 = file_identity(path)
            where = str(path)
        used = ranges.get(index, FeedRange(records=0, first_ts=None, last_ts=None))
        feeds.append(
            FeedReference(
                feed=index,
                name=feed.feed_name,
                path=feed.path,
                resolved=where,
                size=size,
                sha256=sha256,
                records=used.records,
                first_ts=used.first_ts,
                last_ts=used.last_ts,
            )
        )
    config = msgspec.json.encode(_resolved(msgspec.structs.replace(section, max_records=None)))
    return config.decode(), feeds


def read_references(path: Path, source: str) -> Referenced | None:
    """The references of the journal at ``path`` after checking every file (None: it has none).

    Raises
    ------
    AtriumError
        When a referenced file is missing or is not the file the run read (one line: the
        journal, the file, and what differs).
    """
    with closing(open_readonly(path, source=source)) as connection:
        if market_data_mode(connection, source) != "references":
            return None
        with reading(connection):
            (config,) = connection.execute(
                "SELECT value FROM meta WHERE key = 'market_data_config'"
            ).fetchone() or ("",)
        feeds = reference_rows(connection)
    try:
        section = msgspec.json.decode(config, type=MarketDataConfig)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise AtriumError(f"{source}: its market data settings do not load ({exc})") from None
    for feed in feeds:
        _check_file(feed, source)
    limit = sum(feed.records for feed in feeds)
    return Referenced(section=msgspec.structs.replace(section, max_records=limit), feeds=feeds)


def reference_rows(connection: sqlite3.Connection) -> tuple[FeedReference, ...]:
    """The ``market_data_refs`` rows of the journal on ``connection`` (none in version 2)."""
    with reading(connection):
        found = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'market_data_refs'"
        ).fetchone()
        if found is None:
            return ()
        rows = connection.execute(f"SELECT {_COLUMNS} FROM market_data_refs ORDER BY feed")
        names = _COLUMNS.split(", ")
        return tuple(FeedReference(**dict(zip(names, row, strict=True))) for row in rows)


def _check_file(feed: FeedReference, source: str) -> None:
    """Refuse a referenced file that is gone or is not the bytes the run read."""
    if feed.sha256 is None:
        return  # synthetic: nothing to read
    path = Path(feed.resolved)
    if not path.is_file():
        raise AtriumError(
            f"{source}: the referenced feed file {feed.resolved} is missing; put it back, or "
            "replay a journal recorded with --record-market-data"
        )
    size, sha256 = file_identity(path)
    if size != feed.size:
        raise AtriumError(
            f"{source}: the referenced feed file {feed.resolved} has changed: {size} bytes, "
            f"the journal recorded {feed.size}"
        )
    if sha256 != feed.sha256:
        raise AtriumError(
            f"{source}: the referenced feed file {feed.resolved} has changed: SHA-256 {sha256}, "
            f"the journal recorded {feed.sha256}"
        )


def check_ranges(
    source: str, recorded: Sequence[FeedReference], ranges: dict[int, FeedRange]
) -> None:
    """Refuse a replay of referenced files that did not send what the recorded run sent.

    Raises
    ------
    AtriumError
        Naming the feed and both ranges.
    """
    for feed in recorded:
        sent = ranges.get(feed.feed, FeedRange(records=0, first_ts=None, last_ts=None))
        if sent != feed.range:
            raise AtriumError(
                f"{source}: feed {feed.name} sent {_describe(sent)}, the journal recorded "
                f"{_describe(feed.range)}; this Atrium does not read it as the recorded run did"
            )


def _describe(used: FeedRange) -> str:
    return f"{used.records} records (ts {used.first_ts} to {used.last_ts})"
