"""``atrium journal salvage IN OUT``: the intact part of a damaged journal, as a new journal.

Every event up to the first damaged one (a page SQLite cannot read, a row that does not
decode, or a gap in ``seq``) is copied byte for byte, in ``seq`` order, with the sessions that began in
that range. Snapshots are not copied: recovery re-runs ``OUT`` from its first event,
which rebuilds positions, cash and open orders as they were after the last intact event.
What was lost is reported: the ``seq`` range and, where SQLite can still count them, the
events by kind. ``IN`` is never changed; ``OUT`` appears complete or not at all.

A service's journal is salvaged whether its market data is in rows or in blocks (the
copy keeps it the same way, the intact records of a block re-blocked); a replay journal
that references its market data has ``seq`` gaps by design, and is made again by
replaying.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import msgspec

from atrium.runtime.errors import JournalError, SalvageError
from atrium.runtime.journal import create_schema
from atrium.runtime.journal_blocks import BlockBuffer, decode_block
from atrium.runtime.journal_check import Damage, find_damage, intact_events
from atrium.runtime.journal_market import block_summary, last_record_seq, market_data_mode
from atrium.runtime.journal_read import open_readonly

__all__ = ("SalvageError", "salvage")

_ROWS_PER_BATCH = 10_000
_MARKET_KINDS = frozenset({"Bar", "Tick"})
_INSERT_BLOCK = (
    "INSERT INTO market_data (first_seq, last_seq, first_ts, last_ts, records, block) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class _Report:
    copied: int
    last_copied: int
    sessions: int
    damage: Damage | None
    lost_kinds: dict[str, int] | None


def salvage(source: Path, out: Path) -> str:
    """Copy the intact events of ``source`` to the new journal ``out``; return the report."""
    if out.exists():
        raise SalvageError(f"{out}: exists; salvage writes a new journal, never over a file")
    if out.resolve() == source.resolve():
        raise SalvageError(f"{out}: is the journal being salvaged; name a new file")
    connection = open_readonly(source)
    try:
        mode = market_data_mode(connection, str(source))
        if mode == "references":
            raise SalvageError(
                f"{source}: a replay journal (its market data is kept as {mode}); salvage "
                "copies a service journal's events: run the replay again instead"
            )
        report = _copy(connection, out, blocks=mode == "blocks")
    finally:
        connection.close()
    return _describe(source, out, report)


def _copy(connection: sqlite3.Connection, out: Path, *, blocks: bool) -> _Report:
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    found: list[Damage] = []
    copied = last = 0
    try:
        with closing(sqlite3.connect(partial, isolation_level=None)) as target:
            create_schema(target, market_data="blocks" if blocks else "rows")
            buffer = BlockBuffer() if blocks else None
            batch: list[tuple[int, int, str, bytes]] = []
            for row in intact_events(connection, found):
                if buffer is None or row[2] not in _MARKET_KINDS:
                    batch.append(row)
                elif buffer.add(row):
                    target.executemany(_INSERT_BLOCK, buffer.take())
                copied, last = copied + 1, row[0]
                if len(batch) == _ROWS_PER_BATCH:
                    _insert(target, batch)
            _insert(target, batch)
            if buffer is not None:
                buffer.close_open()
                target.executemany(_INSERT_BLOCK, buffer.take())
            sessions = _copy_sessions(connection, target, last)
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    damage = found[0] if found else find_damage(connection)
    if damage is not None and damage.last_seq is None:
        damage = Damage(damage.intact_through, _max_seq(connection), damage.detail)
    lost_kinds = _lost_kinds(connection, last) if damage is not None else None
    return _Report(copied, last, sessions, damage, lost_kinds)


def _insert(target: sqlite3.Connection, batch: list[tuple[int, int, str, bytes]]) -> None:
    target.execute("BEGIN")
    target.executemany("INSERT INTO events (seq, ts, kind, payload) VALUES (?, ?, ?, ?)", batch)
    target.execute("COMMIT")
    batch.clear()


def _copy_sessions(source: sqlite3.Connection, target: sqlite3.Connection, last: int) -> int:
    try:
        rows = source.execute(
            "SELECT session, started_ns, first_seq, mode, atrium_version, fingerprint "
            "FROM sessions WHERE first_seq <= ? ORDER BY session",
            (max(last, 1),),
        ).fetchall()
    except sqlite3.DatabaseError:
        return 0  # the sessions table is damaged too: the events are what counts
    target.executemany("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def _max_seq(connection: sqlite3.Connection) -> int | None:
    try:
        return last_record_seq(connection) or None
    except JournalError:
        return None


def _lost_kinds(connection: sqlite3.Connection, after: int) -> dict[str, int] | None:
    """Events after ``after`` by kind, read through the kind index (None: unreadable).

    Market data in blocks is counted by kind too; a block that does not decode counts
    its records as ``market data`` (their kinds are inside it).
    """
    try:
        rows = connection.execute(
            "SELECT kind, COUNT(*) FROM events INDEXED BY events_kind WHERE seq > ? GROUP BY kind",
            (after,),
        ).fetchall()
        counts = Counter({str(kind): int(n) for kind, n in rows})
        if block_summary(connection).blocks:
            counts.update(_lost_block_kinds(connection, after))
    except (sqlite3.DatabaseError, JournalError):
        return None
    return dict(sorted(counts.items()))


def _lost_block_kinds(connection: sqlite3.Connection, after: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    query = "SELECT records, block FROM market_data WHERE last_seq > ?"
    for records, block in connection.execute(query, (after,)):
        try:
            counts.update(kind for seq, _, kind, _ in decode_block(bytes(block)) if seq > after)
        except msgspec.DecodeError:
            counts["market data"] += int(records)
    return counts


def _describe(source: Path, out: Path, report: _Report) -> str:
    copied = (
        f"seq 1 to {report.last_copied}" if report.copied else "none: the first event is damaged"
    )
    lines = [
        f"salvaged {source} -> {out}",
        f"copied    {report.copied} events ({copied}), {report.sessions} sessions; "
        "snapshots are not copied (recovery re-runs the journal from its first event)",
    ]
    damage = report.damage
    if damage is None:
        lines.append("lost      nothing: no damage found")
        return "\n".join(lines)
    lines.append(f"damage    {damage.detail}")
    kinds = report.lost_kinds
    if kinds is None:
        counted = "how many of each kind cannot be read"
    elif not kinds:
        counted = "0 events"
    else:
        by_kind = ", ".join(f"{kind} {n}" for kind, n in kinds.items())
        counted = f"{sum(kinds.values())} events: {by_kind}"
    lines.append(f"lost      {damage.lost()} ({counted})")
    lines.append(
        f"next      atrium run on {out} (as [journal].path) recovers the session up to seq "
        f"{report.last_copied}; compare its open orders with the venue"
    )
    return "\n".join(lines)
