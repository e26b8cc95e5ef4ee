"""The event journal: every published message, in order, in SQLite (aiosqlite, WAL).

The bus calls :meth:`Journal.record` for each message as it is published (sync, cheap: one
msgpack encode and a list append). A single writer task drains the buffer with batched
``executemany`` calls. When the buffer passes its high-water mark the journal closes its
gate and sources wait on it (through the bus) until the writer catches up, so memory
stays bounded however fast the feed is.

Schema (version 3)::

    meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)   -- journal_schema_version,
                        -- message_schema_version, market_data (rows|blocks|references)
    events(seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL, payload BLOB NOT NULL)
    snapshots(seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, fingerprint TEXT NOT NULL,
              payload BLOB NOT NULL)              -- every actor's state after event ``seq``
    sessions(session INTEGER PRIMARY KEY, started_ns INTEGER NOT NULL, first_seq INTEGER NOT NULL,
             mode TEXT NOT NULL, atrium_version TEXT NOT NULL, fingerprint TEXT NOT NULL)
    market_data(first_seq INTEGER PRIMARY KEY, last_seq, first_ts, last_ts, records,
                block BLOB)                       -- Bar/Tick in blocks (journal_blocks)
    market_data_refs(feed INTEGER PRIMARY KEY, name, path, resolved, size, sha256, records,
                     first_ts, last_ts)           -- the files a replay read (market_refs)

``payload`` of an event holds the exact bytes of :func:`atrium.runtime.codec.encode`.

Where ``Bar`` and ``Tick`` go is the journal's ``market_data`` mode: ``rows`` (one event
row each: cluster recordings, version 2 journals, and any journal of rows ``atrium run``
appends to), ``blocks`` (many to a ``market_data`` row: ``atrium run`` on a new journal)
or ``references`` (not written: the replay names the files they came from). Every message takes a ``seq`` either way, so the order flow has the same ``seq``
as in a journal of rows, and the ``seq`` missing from ``events`` are the market data's.
A version 2 journal is appended to as it is (rows only).

Durability (``durable=True``, the service): recording an order, cancel, fill, control or
trading-state change raises :attr:`Journal.commit_pending`; the supervisor then awaits
:meth:`Journal.commit` before any actor handles another message, so no venue call, no
position change and no state change acts on a message that a crash could still lose.
Commits are prefix-ordered: a committed message has every earlier one committed too.
Market data between them is committed in batches by the writer task.

A durable journal's commit appends everything recorded since the last one to its commit
log (:mod:`atrium.runtime.journal_commits`) on the event loop's thread: one ``write()``,
no SQLite transaction, no hop to the aiosqlite thread (which would wait for the GIL
behind the busy loop), no queue behind a batch of market data. The writer task copies the
rows into SQLite in batches as for any journal, and the next open moves into SQLite what
a killed run committed and SQLite lacks. ``synchronous`` is the durability level:
``normal`` survives a killed process, ``full`` a power loss (an ``fdatasync`` of the
log per commit, and SQLite's own at each of its commits).
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Final, Literal, cast

import aiosqlite
import anyio

from atrium.runtime.codec import encode
from atrium.runtime.errors import JournalError
from atrium.runtime.journal_blocks import BLOCK_RECORDS, BlockBuffer, BlockRow, Record
from atrium.runtime.journal_commits import CommitLog, commits_path, pending_records
from atrium.runtime.messages import (
    MESSAGE_SCHEMA_VERSION,
    Bar,
    CancelOrder,
    Control,
    Fill,
    Message,
    Order,
    Tick,
    TradingStateChanged,
)

__all__ = (
    "DURABLE_KINDS",
    "JOURNAL_SCHEMA_VERSION",
    "MARKET_DATA_KEY",
    "OLD_JOURNAL_SCHEMA_VERSIONS",
    "OPEN_SESSION_KEY",
    "Journal",
    "JournalError",
    "MarketDataMode",
    "create_schema",
)

log = logging.getLogger("atrium.journal")

JOURNAL_SCHEMA_VERSION: Final = 3
#: Older versions this Atrium still reads (and appends rows to).
OLD_JOURNAL_SCHEMA_VERSIONS: Final = ("2",)
#: ``meta`` key naming where the journal keeps its market data (absent: ``rows``).
MARKET_DATA_KEY: Final = "market_data"
MarketDataMode = Literal["rows", "blocks", "references"]
#: ``meta`` key holding the number of the session that is appending, until it closes
#: cleanly; checkpointed into the main file, so it survives the loss of the ``-wal``.
OPEN_SESSION_KEY: Final = "open_session"

#: Kinds committed before anyone acts on them (when the journal is durable).
DURABLE_KINDS: Final = frozenset({Order, CancelOrder, Fill, Control, TradingStateChanged})

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS events ("
    "seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL, payload BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_kind ON events (kind, seq)",
    "CREATE TABLE IF NOT EXISTS snapshots ("
    "seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, fingerprint TEXT NOT NULL, "
    "payload BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sessions ("
    "session INTEGER PRIMARY KEY, started_ns INTEGER NOT NULL, first_seq INTEGER NOT NULL, "
    "mode TEXT NOT NULL, atrium_version TEXT NOT NULL, fingerprint TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS market_data ("
    "first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, first_ts INTEGER NOT NULL, "
    "last_ts INTEGER NOT NULL, records INTEGER NOT NULL, block BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS market_data_refs ("
    "feed INTEGER PRIMARY KEY, name TEXT NOT NULL, path TEXT NOT NULL, resolved TEXT NOT NULL, "
    "size INTEGER, sha256 TEXT, records INTEGER NOT NULL, first_ts INTEGER, last_ts INTEGER)",
)
#: The tables every journal has; version 3 adds the market data ones.
_V2_TABLES: Final = frozenset({"meta", "events", "snapshots", "sessions"})
_MARKET: Final = frozenset({Bar, Tick})
_MARKET_NAMES: Final = frozenset(kind.__name__ for kind in _MARKET)


def _seq_of(record: Record) -> int:
    return record[0]


#: Rows per INSERT statement. sqlite3 lets other threads run (releases the GIL) around
#: each statement it steps, and waits to get it back: with one row per statement, a
#: busy event loop thread makes the writer wait a switch interval (5 ms) per row. A
#: statement of many rows pays that once, and binds its values in one pass.
_ROWS_PER_INSERT: Final = 200
_inserts: dict[int, str] = {}
_INSERT_BLOCK: Final = (
    "INSERT INTO market_data (first_seq, last_seq, first_ts, last_ts, records, block) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
#: Blocks are written in ``seq`` order: the last one ends the market data. A lookup down
#: the table's right edge, where ``MAX(last_seq)`` would read every block's page.
_LAST_BLOCK_SEQ: Final = "SELECT last_seq FROM market_data ORDER BY first_seq DESC LIMIT 1"
_INSERT_SNAPSHOT: Final = (
    "INSERT OR REPLACE INTO snapshots (seq, ts, fingerprint, payload) VALUES (?, ?, ?, ?)"
)


def _insert_sql(rows: int) -> str:
    sql = _inserts.get(rows)
    if sql is None:
        values = ", ".join(["(?, ?, ?, ?)"] * rows)
        sql = _inserts[rows] = f"INSERT INTO events (seq, ts, kind, payload) VALUES {values}"
    return sql


async def _insert_events(db: aiosqlite.Connection, rows: list[tuple[int, int, str, bytes]]) -> None:
    """Insert ``rows`` in statements of :data:`_ROWS_PER_INSERT` rows (two calls at most)."""
    full = len(rows) - len(rows) % _ROWS_PER_INSERT
    if full:
        chunks = (
            [value for row in rows[start : start + _ROWS_PER_INSERT] for value in row]
            for start in range(0, full, _ROWS_PER_INSERT)
        )
        await db.executemany(_insert_sql(_ROWS_PER_INSERT), chunks)
    if full < len(rows):
        rest = rows[full:]
        await db.execute(_insert_sql(len(rest)), [value for row in rest for value in row])


async def _write(
    db: aiosqlite.Connection,
    events: list[tuple[int, int, str, bytes]],
    snapshots: list[tuple[int, int, str, bytes]],
    blocks: list[BlockRow],
) -> None:
    """Write ``events``, ``snapshots`` and market data ``blocks`` in one transaction.

    A batch of one statement (what a commit barrier usually finds) goes in one call;
    anything bigger is wrapped in BEGIN and COMMIT.
    """
    if not snapshots and not blocks and len(events) <= _ROWS_PER_INSERT:
        await _insert_events(db, events)  # one statement: a transaction by itself
        return
    await db.execute("BEGIN")
    try:
        await _insert_events(db, events)
        if blocks:
            await db.executemany(_INSERT_BLOCK, blocks)
        if snapshots:
            await db.executemany(_INSERT_SNAPSHOT, snapshots)
    except BaseException:
        await db.execute("ROLLBACK")
        raise
    await db.execute("COMMIT")


def _versions() -> dict[str, str]:
    return {
        "journal_schema_version": str(JOURNAL_SCHEMA_VERSION),
        "message_schema_version": str(MESSAGE_SCHEMA_VERSION),
    }


def create_schema(connection: sqlite3.Connection, market_data: MarketDataMode = "rows") -> None:
    """Make the empty database on ``connection`` (autocommit) a journal of this schema."""
    connection.execute("BEGIN")
    for statement in _SCHEMA:
        connection.execute(statement)
    meta = {**_versions(), MARKET_DATA_KEY: market_data}
    connection.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
    connection.execute("COMMIT")


def _unwritable(path: Path) -> str | None:
    """Which path keeps ``path`` from being written as a journal, and the fix (None: none)."""
    directory = path.parent
    fix = "or set [journal].path to a writable directory"
    if not directory.is_dir():
        return f"the directory {directory} does not exist; create it, {fix}"
    if not os.access(directory, os.W_OK | os.X_OK):
        # Even an existing journal needs it: SQLite creates the -wal and -shm files there.
        return f"the directory {directory} is not writable; make it writable, {fix}"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return f"the file {path} is not readable and writable; fix its permissions, {fix}"
    return None


class Journal:
    """Append-only message journal with one background writer.

    Parameters
    ----------
    path : Path
        The SQLite file. An existing file must carry this schema version; it is appended to.
    batch_size : int
        Rows per ``executemany``; the high-water mark is eight batches.
    flush_interval : float
        Longest a recorded message waits in memory before it is written (seconds).
    durable : bool
        Raise :attr:`commit_pending` for :data:`DURABLE_KINDS`, and write on the loop
        thread (see the module docstring).
    synchronous : {"normal", "full"}
        ``full`` flushes the disk at every commit (the commit log and SQLite).
    market_data : {"rows", "blocks", "references"}
        Where ``Bar`` and ``Tick`` go (see the module docstring); a new file only, an
        existing one must have been written the same way unless ``adopt_mode``.
    adopt_mode : bool
        Append to an existing file the way it was written (the service: a journal of
        rows, schema 2 or 3, stays one; a new file gets ``market_data``).
    """

    def __init__(
        self,
        path: Path,
        *,
        batch_size: int = 2048,
        flush_interval: float = 0.2,
        durable: bool = False,
        synchronous: str = "normal",
        market_data: MarketDataMode = "rows",
        adopt_mode: bool = False,
    ) -> None:
        self.path = path
        self._adopt_mode = adopt_mode
        self._use_mode(market_data)
        # Full blocks that wake the writer, and that make sources wait for it.
        self._blocks_wake = max(1, batch_size // BLOCK_RECORDS)
        self._blocks_high = max(2, batch_size * 8 // BLOCK_RECORDS)
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.durable = durable
        self._synchronous = {"normal": "NORMAL", "full": "FULL"}[synchronous]
        #: True while a durable message is recorded and not yet committed.
        self.commit_pending = False
        self._high_water = batch_size * 8
        self._buffer: list[tuple[int, int, str, bytes]] = []
        self._snapshots: list[tuple[int, int, str, bytes]] = []
        self._write_lock = anyio.Lock()
        self._db: aiosqlite.Connection | None = None
        #: A durable journal's commits land here first (see :meth:`commit`).
        self._commits: CommitLog | None = None
        #: Records neither in the commit log nor known to be in SQLite, in ``seq`` order.
        self._unframed: list[Record] = []
        #: Every record up to this ``seq`` is in SQLite; the last one in the commit log.
        self._stored_seq = 0
        self._framed_seq = 0
        self._wake = anyio.Event()
        self._drained = anyio.Event()
        self._drained.set()
        self._closed = False
        self.next_seq = 1
        self.written = 0
        #: The last ``seq`` known to be in the file.
        self.committed_seq = 0
        #: Set when a write failed (a full disk): the journal takes no more writes.
        self.failure: JournalError | None = None

    def _use_mode(self, market_data: MarketDataMode) -> None:
        self.market_data = market_data
        #: Kinds that get a ``seq`` and no ``events`` row.
        self._elsewhere: frozenset[type] = frozenset() if market_data == "rows" else _MARKET
        self._blocks = BlockBuffer() if market_data == "blocks" else None

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        """Open or create the file, check its versions, and continue its sequence.

        Nothing is written to an existing file before it proved to be an Atrium journal
        of this schema: any other file is refused as it is.
        """
        problem = _unwritable(self.path)
        if problem is not None:
            raise JournalError(f"{self.path}: cannot open the journal for writing: {problem}")
        try:
            # Autocommit: a batch that fits one statement is its own transaction, so a
            # commit barrier costs one trip to the writer thread (each trip is ~0.1 ms).
            self._db = await aiosqlite.connect(self.path, isolation_level=None)
            async with self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            ) as cursor:
                tables = {str(row[0]) for row in await cursor.fetchall()}
            problem = await self._check_existing(tables) if tables else None
            if problem is None:
                await self._db.execute("PRAGMA journal_mode=WAL")
                await self._db.execute(f"PRAGMA synchronous={self._synchronous}")
                if not tables:
                    await self._create()
                last = await self._last_seq("market_data" in tables or not tables)
        except Exception as exc:  # sqlite3.DatabaseError and friends: say which file
            await self._close_quietly()
            raise JournalError(
                f"{self.path}: not a usable Atrium journal ({exc}); the file was left untouched"
            ) from None
        if problem is not None:
            await self._close_quietly()
            raise JournalError(f"{self.path}: {problem}; the file was left untouched")
        last = await self._absorb_commits(last)
        self.next_seq = last + 1
        self.committed_seq = self._stored_seq = self._framed_seq = last
        if self.durable:
            self._commits = CommitLog(commits_path(self.path), sync=self._synchronous == "FULL")
            self._commits.empty()  # SQLite holds all of it now

    async def _absorb_commits(self, last: int) -> int:
        """Move what a killed run committed and SQLite lacks into SQLite; the new last ``seq``.

        The records come in ``seq`` order right after ``last`` (SQLite holds a prefix of
        them: its writer writes in order), market data into a block as it would have been.
        """
        pending = pending_records(self.path, last)
        if not pending:
            return last
        assert self._db is not None
        events: list[Record] = []
        blocks = BlockBuffer() if self._blocks is not None else None
        for record in pending:
            if blocks is not None and record[2] in _MARKET_NAMES:
                blocks.add(record)
            else:
                events.append(record)
        if blocks is not None:
            blocks.close_open()
        await _write(self._db, events, [], blocks.take() if blocks is not None else [])
        log.info(
            "%s: moved %d committed records (seq %d to %d) from %s",
            self.path,
            len(pending),
            pending[0][0],
            pending[-1][0],
            commits_path(self.path).name,
        )
        return pending[-1][0]

    async def _last_seq(self, blocks: bool) -> int:
        """The largest ``seq`` in the file, in ``events`` or (``blocks``) in a block."""
        assert self._db is not None
        query = "SELECT COALESCE(MAX(seq), 0) FROM events"
        if blocks:
            query = f"SELECT MAX(({query}), COALESCE(({_LAST_BLOCK_SEQ}), 0))"
        async with self._db.execute(query) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _check_existing(self, tables: set[str]) -> str | None:
        """Why an existing database is not a journal this Atrium may append to, if so."""
        missing = sorted(_V2_TABLES - tables)
        if "meta" in missing:
            return "an SQLite database, but not an Atrium journal (it has no meta table)"
        meta = await self._read_meta()
        expected = _versions()
        versions = {key: meta.get(key, "") for key in expected}
        old = versions["journal_schema_version"] in OLD_JOURNAL_SCHEMA_VERSIONS
        if old:
            expected["journal_schema_version"] = versions["journal_schema_version"]
        if versions != expected:
            return f"journal schema {versions} is not the supported {_versions()}"
        if missing:
            return f"an Atrium journal without its {', '.join(missing)} table (damaged)"
        kept = meta.get(MARKET_DATA_KEY, "rows")
        if self._adopt_mode and kept in ("rows", "blocks"):
            self._use_mode(cast(MarketDataMode, kept))
        if kept != self.market_data:
            return (
                f"its market data is kept as {kept}, this run would keep it as "
                f"{self.market_data}; write to a new journal"
            )
        return None

    async def _create(self) -> None:
        assert self._db is not None
        await self._db.execute("BEGIN")
        for statement in _SCHEMA:
            await self._db.execute(statement)
        meta = {**_versions(), MARKET_DATA_KEY: self.market_data}
        await self._db.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
        await self._db.execute("COMMIT")

    async def _read_meta(self) -> dict[str, str]:
        assert self._db is not None
        async with self._db.execute("SELECT key, value FROM meta") as cursor:
            return {str(key): str(value) for key, value in await cursor.fetchall()}

    async def _close_quietly(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def run_writer(self) -> None:
        """Write batches until :meth:`close`; run this as one task.

        The writer waits for a full batch, or at most ``flush_interval`` seconds, so
        rows reach the file in large ``executemany`` calls: writing whatever trickled in
        would cost one thread hop and one commit per handful of messages.
        """
        while not self._closed:
            if len(self._buffer) < self.batch_size:
                self._wake = anyio.Event()
                with anyio.move_on_after(self.flush_interval):
                    await self._wake.wait()
            await self._write_buffer()

    async def close(self) -> None:
        """Write everything still buffered, then close the file."""
        self._closed = True
        self._wake.set()
        if self._blocks is not None:
            self._blocks.close_open()
        with anyio.CancelScope(shield=True):
            if self._db is not None:
                if self.failure is None:
                    await self._write_buffer()
                if self._commits is not None:
                    # Everything it held is in SQLite unless a write failed.
                    self._commits.close(remove=self.failure is None)
                    self._commits = None
                # Closed cleanly: SQLite checkpoints and removes the -wal. After a failed
                # write the mark goes too if it can; left, it only makes the next start
                # refuse if the -wal is gone, which is safe.
                with contextlib.suppress(sqlite3.Error):
                    await self._db.execute("DELETE FROM meta WHERE key = ?", (OPEN_SESSION_KEY,))
                await self._db.close()
                self._db = None

    async def commit(self) -> None:
        """Make every message recorded so far survive a crash (the durability barrier).

        A durable journal appends them to its commit log on the calling thread and returns
        without suspending: one ``write()`` (and, at ``power``, one ``fdatasync``), where
        an SQLite transaction costs several times that. Otherwise the writer writes them.
        """
        self.commit_pending = False
        if self._commits is not None:
            self._append_commit(self._commits)
            return
        await self._write_buffer()

    def _append_commit(self, commits: CommitLog) -> None:
        if self.failure is not None:
            raise self.failure
        records = self._unframed
        if not records:
            return
        self._unframed = []
        if self._stored_seq >= self._framed_seq:
            commits.empty()  # SQLite has caught up with every earlier commit
        try:
            commits.append(records)
        except OSError as exc:  # a full disk, an I/O error
            self.failure = self._write_failure(exc.strerror or exc)
            raise self.failure from None
        self._framed_seq = records[-1][0]
        self.committed_seq = max(self.committed_seq, self._framed_seq)

    async def begin_session(self, *, mode: str, version: str, fingerprint: str) -> int:
        """Record that a run starts appending here; return its session number.

        The session stays marked open in ``meta`` (:data:`OPEN_SESSION_KEY`) until
        :meth:`close`; the mark is checkpointed into the main file at once, so a start
        after an unclean stop can tell when the ``-wal`` file went missing.
        """
        assert self._db is not None
        async with self._write_lock:
            cursor = await self._db.execute(
                "INSERT INTO sessions (started_ns, first_seq, mode, atrium_version, fingerprint) "
                "VALUES (?, ?, ?, ?, ?)",
                (time.time_ns(), self.next_seq, mode, version, fingerprint),
            )
            session = int(cursor.lastrowid or 0)
            await self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", (OPEN_SESSION_KEY, str(session))
            )
            await self._db.execute("PRAGMA wal_checkpoint(FULL)")
        return session

    # -- recording -----------------------------------------------------------------------

    def record(self, message: Message) -> None:
        """Buffer ``message`` under the next sequence number (the bus tap)."""
        cls = type(message)
        if cls in self._elsewhere:
            self._record_market_data(message)
            return
        buffer = self._buffer
        row = (self.next_seq, message.ts, cls.__name__, encode(message))
        buffer.append(row)
        self.next_seq += 1
        if self.durable:
            self._unframed.append(row)
            if cls in DURABLE_KINDS:
                self.commit_pending = True
        # The buffer grows by one and is swapped out whole, so each mark is met exactly:
        # the events are touched once per batch, not on every message past the mark.
        size = len(buffer)
        if size == self.batch_size:
            self._wake.set()
        elif size == self._high_water and self._drained.is_set():
            self._drained = anyio.Event()  # sources wait on this one until the writer caught up

    def _record_market_data(self, message: Message) -> None:
        """Give a bar or tick its ``seq``; into a block, or nowhere (references)."""
        seq = self.next_seq
        self.next_seq = seq + 1
        blocks = self._blocks
        if blocks is None:
            return
        row = (seq, message.ts, type(message).__name__, encode(message))
        if self.durable:
            self._unframed.append(row)
        if not blocks.add(row):
            return
        waiting = len(blocks.full)
        if waiting >= self._blocks_wake:
            self._wake.set()
        if waiting >= self._blocks_high and self._drained.is_set():
            self._drained = anyio.Event()

    async def write_references(self, config: str, rows: list[tuple[object, ...]]) -> None:
        """Store the files a replay read (``market_data_refs`` rows) and its settings.

        ``config`` is the ``[market_data]`` section as run, as JSON (``meta`` key
        ``market_data_config``); see :mod:`atrium.runtime.market_refs`.
        """
        assert self._db is not None
        async with self._write_lock:
            await self._db.execute("BEGIN")
            await self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('market_data_config', ?)", (config,)
            )
            await self._db.executemany(
                "INSERT INTO market_data_refs (feed, name, path, resolved, size, sha256, "
                "records, first_ts, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            await self._db.execute("COMMIT")

    def record_snapshot(self, ts: int, fingerprint: str, payload: bytes) -> None:
        """Store actor state valid after the last recorded message (written in order)."""
        self._snapshots.append((self.next_seq - 1, ts, fingerprint, payload))
        self._wake.set()

    @property
    def buffered(self) -> int:
        """Rows recorded and not yet handed to SQLite."""
        return len(self._buffer)

    @property
    def blocked(self) -> bool:
        """True while the buffer is above its high-water mark."""
        return not self._drained.is_set()

    async def wait_writable(self) -> None:
        """Wait until the writer has caught up below the high-water mark."""
        self._wake.set()
        await self._drained.wait()

    def _written(self, batch: list[tuple[int, int, str, bytes]], blocks: list[BlockRow]) -> None:
        """Note what reached the file; open the gate when below the high-water marks."""
        last = max(batch[-1][0] if batch else 0, blocks[-1][1] if blocks else 0)
        self.committed_seq = max(self.committed_seq, last)
        self.written += len(batch)
        if len(self._buffer) < self._high_water and self._blocks_waiting < self._blocks_high:
            self._drained.set()

    async def _write_buffer(self) -> None:
        # The lock keeps batches in order and makes a commit() that finds the buffer
        # empty wait for the batch another task is still writing.
        async with self._write_lock:
            # A durable journal's writer takes the open block too: SQLite then holds every
            # record up to each turn, with no gap for a crash to leave, and the commit log
            # can be emptied. A turn comes every flush_interval at most, or per two full
            # blocks, so blocks stay large where it matters.
            open_block = self._blocks if self.durable else None
            if open_block is not None:
                open_block.close_open()
            while self._buffer or self._snapshots or self._blocks_waiting:
                # Shielded: the rows leave the buffer here, so a cancellation between this
                # and the commit (the writer task cancelled at shutdown) would lose them --
                # close() finds the buffer empty and the file rolls the batch back.
                with anyio.CancelScope(shield=True):
                    if open_block is not None:
                        open_block.close_open()  # what came during the last turn
                    through = self.next_seq - 1
                    batch, self._buffer = self._buffer, []
                    snapshots, self._snapshots = self._snapshots, []
                    blocks = self._blocks.take() if self._blocks is not None else []
                    db = self._db
                    assert db is not None
                    if self.failure is not None:
                        raise self.failure
                    try:
                        await _write(db, batch, snapshots, blocks)
                    except sqlite3.OperationalError as exc:  # a full disk, an I/O error
                        self.failure = self._write_failure(exc)
                        raise self.failure from None
                self._written(batch, blocks)
                self._stored(through)

    def _stored(self, through: int) -> None:
        """SQLite holds every record up to ``through``: they need no commit-log frame."""
        self._stored_seq = through
        unframed = self._unframed
        if unframed and unframed[0][0] <= through:
            del unframed[: bisect.bisect_right(unframed, through, key=_seq_of)]

    @property
    def _blocks_waiting(self) -> int:
        return len(self._blocks.full) if self._blocks is not None else 0

    def _write_failure(self, problem: object) -> JournalError:
        """The error of a failed write: the file, the disk, what is safe, what to do.

        What was committed before is safe either way: in SQLite or in the commit log,
        which is kept and moved into SQLite at the next start.
        """
        directory = self.path.resolve().parent
        try:
            free = f"{shutil.disk_usage(directory).free:,} bytes free"
        except OSError:
            free = "free space unknown"
        return JournalError(
            f"{self.path}: cannot write the journal: {problem} (the disk mounted at "
            f"{_mount_point(directory)}, {free}). The journal holds every event up to seq "
            f"{self.committed_seq} and nothing later was acted on; free space on that disk "
            "(or move [journal].path to another), then start again to recover from it"
        )


def _mount_point(path: Path) -> Path:
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path
