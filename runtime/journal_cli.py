"""``atrium journal stats|tail|export``: look inside a journal file without changing it.

Every command opens the journal read-only (:mod:`atrium.runtime.journal_read`), so it is safe on
the journal of a running service; each reads from one SQLite snapshot, so a journal that
grows meanwhile gives figures and rows that belong together.

Market data a journal keeps in blocks is read as if each record were a row (``seq``
order across both), so a journal written with ``--record-market-data`` exports as one of
rows would; ``stats`` says where the market data is, with a referenced file's size,
SHA-256 and the records used (those records are not in the journal to export).

``tail`` and ``export`` write one event per row: ``seq``, ``ts`` (integer nanoseconds),
``time`` (``ts`` as ISO 8601 UTC with nanoseconds), ``kind`` and ``message`` (every field
of the decoded message, as JSON; decimals are strings with their exact digits). A payload
that does not decode, or holds another kind than its row says, is written with ``error``
and ``payload_hex`` instead of ``message`` (in CSV: that object in the ``message``
column), counted, and reported on stderr at the end; the exit status stays 0.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO, Final

import msgspec

from atrium.config import load_config
from atrium.runtime.codec import MESSAGE_TYPES, decode
from atrium.runtime.errors import ExportError, UsageError
from atrium.runtime.journal import MARKET_DATA_KEY, JournalError
from atrium.runtime.journal_market import (
    BlockSummary,
    block_summary,
    iter_records,
    market_data_mode,
    read_block,
)
from atrium.runtime.journal_read import open_readonly, read_meta, reading
from atrium.runtime.journal_salvage import salvage
from atrium.runtime.market_refs import FeedReference, reference_rows
from atrium.runtime.reports.benchmark import BuyAndHold, benchmark_symbols
from atrium.runtime.reports.collect import collect
from atrium.runtime.reports.summary import summarize, write_summary_and_report

__all__ = ("ExportError", "add_parser", "run")

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1

_EPOCH: Final = datetime(1970, 1, 1)  # naive, so isoformat() has no offset to strip
_NS_PER_SECOND: Final = 1_000_000_000
_FLUSH_BYTES: Final = 1 << 16
_CSV_HEADER: Final = b"seq,ts,time,kind,message\n"
_CSV_SPECIAL: Final = (b",", b'"', b"\r", b"\n")
_SIDECARS: Final = ("-wal", "-shm", "-journal")
_LABEL_WIDTH: Final = 14


# -- command line -----------------------------------------------------------------------


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``journal stats|tail|export|salvage`` to the ``atrium`` sub-commands."""
    journal = commands.add_parser(
        "journal", help="inspect a journal file (read-only), or salvage a damaged one"
    )
    actions = journal.add_subparsers(dest="journal_command", required=True, metavar="ACTION")

    stats = actions.add_parser(
        "stats", help="size, schema, event counts per kind, sessions and snapshots"
    )
    stats.add_argument("file", type=Path, metavar="FILE", help="the journal (never changed)")
    stats.add_argument("--json", action="store_true", help="one JSON object instead of text")

    tail = actions.add_parser("tail", help="the last events, oldest first, as JSON lines")
    tail.add_argument("file", type=Path, metavar="FILE", help="the journal (never changed)")
    tail.add_argument(
        "-n", type=_positive_int, default=10, metavar="N", help="how many (default 10)"
    )
    _add_kind(tail)

    export = actions.add_parser(
        "export", help="every event as CSV or JSON lines, or the replay's reports rebuilt"
    )
    export.add_argument("file", type=Path, metavar="FILE", help="the journal (never changed)")
    shape = export.add_mutually_exclusive_group(required=True)
    shape.add_argument("--format", choices=("csv", "jsonl"), help="one row or line per event")
    shape.add_argument(
        "--reports",
        type=Path,
        metavar="DIR",
        help="write trades.csv, equity.csv, summary.json and report.html into DIR "
        "(needs --config: the initial capital and the exposure limit)",
    )
    export.add_argument(
        "--config", type=Path, metavar="FILE", help="the config the journal was written with"
    )
    export.add_argument(
        "--out", type=Path, default=None, metavar="PATH", help="write here instead of stdout"
    )
    export.add_argument(
        "--since-seq",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="only events with a seq above N",
    )
    _add_kind(export)

    salvage = actions.add_parser(
        "salvage", help="copy the intact events of a damaged journal into a new journal"
    )
    salvage.add_argument("file", type=Path, metavar="IN", help="the journal (never changed)")
    salvage.add_argument("out", type=Path, metavar="OUT", help="the new journal (must not exist)")


def _add_kind(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kind",
        action="append",
        type=_kind,
        default=None,
        dest="kinds",
        metavar="KIND",
        help="only events of this kind (e.g. Fill); repeat for several",
    )


def _kind(text: str) -> str:
    if text not in MESSAGE_TYPES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a message kind (kinds: {', '.join(sorted(MESSAGE_TYPES))})"
        )
    return text


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    """Run the ``journal`` action parsed into ``args``; return the exit status."""
    if args.journal_command == "stats":
        return _stats(args.file, as_json=args.json)
    if args.journal_command == "tail":
        return _tail(args.file, args.n, args.kinds)
    if args.journal_command == "export" and args.reports is not None:
        return _export_reports(args.file, args.reports, args.config)
    if args.journal_command == "export":
        return _export(args.file, args.format, args.out, args.kinds, args.since_seq)
    if args.journal_command == "salvage":
        print(salvage(args.file, args.out))
        return 0
    raise AssertionError(args.journal_command)  # argparse rejects unknown actions


# -- stats ------------------------------------------------------------------------------


class _Session(msgspec.Struct, frozen=True, gc=False):
    """One start of ``atrium run``/``atrium replay`` on the journal."""

    session: int
    started_ns: int
    started: str
    first_seq: int
    mode: str
    version: str


class _Snapshots(msgspec.Struct, frozen=True, gc=False):
    count: int
    latest_seq: int | None


class _MarketData(msgspec.Struct, frozen=True, gc=False):
    """Where the journal keeps ``Bar`` and ``Tick``: rows, blocks, or referenced files."""

    mode: str
    blocks: BlockSummary
    references: tuple[FeedReference, ...]


class _Stats(msgspec.Struct, frozen=True, gc=False):
    """What ``stats`` reports, in the order ``--json`` lists it."""

    file: str
    size_bytes: int
    wal_bytes: int
    journal_schema_version: str
    message_schema_version: str
    integrity: str
    events: int
    first_seq: int | None
    last_seq: int | None
    first_ts: int | None
    last_ts: int | None
    first_time: str | None
    last_time: str | None
    kinds: dict[str, int]
    sessions: list[_Session]
    snapshots: _Snapshots
    market_data: _MarketData


def _stats(path: Path, *, as_json: bool) -> int:
    connection = open_readonly(path)
    with closing(connection), reading(connection):
        connection.execute("BEGIN")  # every figure from one snapshot
        stats = _collect(connection, path)
    if as_json:
        sys.stdout.write(msgspec.json.encode(stats).decode() + "\n")
    else:
        sys.stdout.write(_format_stats(stats))
    return EXIT_OK


def _collect(connection: sqlite3.Connection, path: Path) -> _Stats:
    meta = read_meta(connection, str(path))
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    for table in ("sessions", "snapshots"):
        if table not in tables:
            raise JournalError(f"{path}: an Atrium journal without its {table} table (damaged)")
    # A whole-file read (about a second per million events): stats is where a damaged
    # page is looked for even if no query needs it.
    found = [str(row[0]) for row in connection.execute("PRAGMA quick_check(5)")]
    if found != ["ok"]:
        lines = [line for row in found for line in row.splitlines() if not line.startswith("***")]
        raise JournalError(f"{path}: the journal is corrupted (quick_check: {'; '.join(lines)})")
    kinds = {
        str(kind): int(count)
        for kind, count in connection.execute(
            "SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind"
        )
    }
    first = connection.execute("SELECT seq, ts FROM events ORDER BY seq LIMIT 1").fetchone()
    last = connection.execute("SELECT seq, ts FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    sessions = [
        _Session(session, started_ns, _iso(started_ns), first_seq, mode, version)
        for session, started_ns, first_seq, mode, version in connection.execute(
            "SELECT session, started_ns, first_seq, mode, atrium_version FROM sessions "
            "ORDER BY session"
        )
    ]
    count, latest = connection.execute("SELECT count(*), max(seq) FROM snapshots").fetchone()
    wal = path.with_name(path.name + "-wal")
    return _Stats(
        file=str(path),
        size_bytes=path.stat().st_size,
        wal_bytes=wal.stat().st_size if wal.is_file() else 0,
        journal_schema_version=meta["journal_schema_version"],
        message_schema_version=meta["message_schema_version"],
        integrity="ok",
        events=sum(kinds.values()),
        first_seq=first[0] if first else None,
        last_seq=last[0] if last else None,
        first_ts=first[1] if first else None,
        last_ts=last[1] if last else None,
        first_time=_iso(first[1]) if first else None,
        last_time=_iso(last[1]) if last else None,
        kinds=kinds,
        sessions=sessions,
        snapshots=_Snapshots(count, latest),
        market_data=_MarketData(
            meta.get(MARKET_DATA_KEY, "rows"), block_summary(connection), reference_rows(connection)
        ),
    )


def _format_stats(stats: _Stats) -> str:
    lines = [
        ("file", stats.file),
        ("size", f"{stats.size_bytes} bytes (-wal file: {stats.wal_bytes} bytes)"),
        (
            "schema",
            f"journal {stats.journal_schema_version}, messages {stats.message_schema_version}",
        ),
        ("integrity", stats.integrity),
    ]
    if stats.events:
        lines += [
            ("events", f"{stats.events} (seq {stats.first_seq} to {stats.last_seq})"),
            ("first", f"{stats.first_time} (ts {stats.first_ts})"),
            ("last", f"{stats.last_time} (ts {stats.last_ts})"),
        ]
    else:
        lines.append(("events", "0"))
    kinds = [[kind, str(count)] for kind, count in stats.kinds.items()]
    lines += _table("kinds", kinds, right={1}) if kinds else [("kinds", "none")]
    sessions = [
        [
            f"#{s.session}",
            f"started {s.started}",
            f"first seq {s.first_seq}",
            f"mode {s.mode}",
            f"version {s.version}",
        ]
        for s in stats.sessions
    ]
    lines += _table("sessions", sessions) if sessions else [("sessions", "none")]
    latest = stats.snapshots.latest_seq
    after = "" if latest is None else f" (latest after seq {latest})"
    lines.append(("snapshots", f"{stats.snapshots.count}{after}"))
    lines += _market_data_lines(stats.market_data)
    return "".join(f"{label:<{_LABEL_WIDTH}}{value}".rstrip() + "\n" for label, value in lines)


def _market_data_lines(market: _MarketData) -> list[tuple[str, str]]:
    label = "market data"
    if market.mode == "rows":
        return [(label, "rows (Bar and Tick are events)")]
    if market.mode == "blocks":
        blocks = market.blocks
        span = f", seq {blocks.first_seq} to {blocks.last_seq}" if blocks.blocks else ""
        return [(label, f"blocks: {blocks.blocks} ({blocks.records} records{span})")]
    lines = [(label, "references (the files a replay read; their records are not here)")]
    for ref in market.references:
        where = (
            f"{ref.resolved}, {ref.size} bytes, sha256 {ref.sha256}" if ref.sha256 else "synthetic"
        )
        span = (
            f", {_iso(ref.first_ts)} to {_iso(ref.last_ts)}"
            if ref.first_ts is not None and ref.last_ts is not None
            else ""
        )
        lines.append(("", f"#{ref.feed} {ref.name}: {where}; {ref.records} records{span}"))
    return lines


def _table(
    label: str, rows: list[list[str]], right: frozenset[int] | set[int] = frozenset()
) -> list[tuple[str, str]]:
    """``rows`` as aligned columns (``right``: indexes right-aligned), ``label`` once."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append((label if index == 0 else "", "  ".join(cells)))
    return lines


# -- tail and export --------------------------------------------------------------------


class _Event(msgspec.Struct, gc=False):
    """One output row of an event whose payload decoded."""

    seq: int
    ts: int
    time: str | None
    kind: str
    message: object


class _Undecodable(msgspec.Struct, gc=False):
    """One output row of an event whose payload did not decode."""

    seq: int
    ts: int
    time: str | None
    kind: str
    error: str
    payload_hex: str


class _Problem(msgspec.Struct, gc=False):
    """The ``message`` column of an undecodable event in CSV."""

    error: str
    payload_hex: str


def _tail(path: Path, count: int, kinds: Sequence[str] | None) -> int:
    connection = open_readonly(path)
    source = str(path)
    with closing(connection):
        with reading(connection):
            # One snapshot for both queries, so events appended meanwhile do not make it N+k.
            connection.execute("BEGIN")
            seqs = _last_seqs(connection, count + 1, kinds)
            if market_data_mode(connection, source) == "blocks":
                blocks = _last_block_seqs(connection, source, count + 1, kinds)
                seqs = sorted(seqs + blocks, reverse=True)
            after = seqs[count] if len(seqs) > count else 0
        rows = _Rows(iter_records(connection, source, after_seq=after, kinds=kinds))
        status = _write(_jsonl(rows), None)
    return _report_undecodable(rows, status)


def _last_seqs(
    connection: sqlite3.Connection, count: int, kinds: Sequence[str] | None
) -> list[int]:
    """The ``seq`` of the last ``count`` events (of ``kinds``), last first."""
    query = "SELECT seq FROM events"
    parameters: list[object] = []
    if kinds is not None:
        # Walk back from the end in seq order, not through the kind index (a sort).
        query += f" WHERE +kind IN ({', '.join('?' * len(kinds))})"
        parameters.extend(kinds)
    rows = connection.execute(f"{query} ORDER BY seq DESC LIMIT ?", [*parameters, count])
    return [int(seq) for (seq,) in rows]


def _last_block_seqs(
    connection: sqlite3.Connection, source: str, count: int, kinds: Sequence[str] | None
) -> list[int]:
    """As :func:`_last_seqs` for the records in blocks, read from the last block back."""
    seqs: list[int] = []
    query = "SELECT first_seq, block FROM market_data ORDER BY first_seq DESC"
    for first_seq, block in connection.execute(query):
        records = read_block(block, first_seq, source)
        found = [seq for seq, _, kind, _ in records if kinds is None or kind in kinds]
        seqs += reversed(found)
        if len(seqs) >= count:
            break
    return seqs[:count]


def _export(
    path: Path, output_format: str, out: Path | None, kinds: Sequence[str] | None, since_seq: int
) -> int:
    if out is not None:
        _refuse_journal(out, path)
    connection = open_readonly(path)
    with closing(connection):
        rows = _Rows(iter_records(connection, str(path), after_seq=since_seq, kinds=kinds))
        chunks = _csv(rows) if output_format == "csv" else _jsonl(rows)
        status = _write(chunks, out)
    return _report_undecodable(rows, status)


def _export_reports(path: Path, out_dir: Path, config_path: Path | None) -> int:
    """Rebuild the replay's four report files from a journal that holds its market data."""
    if config_path is None:
        raise UsageError("journal export --reports needs --config FILE (the run's config)")
    config = load_config(config_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    _refuse_journal(out_dir / "trades.csv", path)
    initial = Decimal(config.portfolio.initial_capital)
    benchmark = BuyAndHold(float(initial), benchmark_symbols(config))
    record = collect(path, out_dir, initial, also=benchmark.add)
    benchmark.finish()
    rf = config.replay.risk_free_rate
    summary = summarize(record, rf, {}, trades_csv=out_dir / "trades.csv", benchmark=benchmark)
    write_summary_and_report(out_dir, record, summary, config, benchmark)
    print(f"wrote trades.csv, equity.csv, summary.json, report.html to {out_dir}")
    return 0


def _refuse_journal(out: Path, journal: Path) -> None:
    """Refuse an ``--out`` that is the journal or one of its SQLite side files."""
    source = journal.resolve()
    protected = {source, *(source.with_name(source.name + suffix) for suffix in _SIDECARS)}
    same = out.exists() and journal.exists() and os.path.samefile(out, journal)
    if same or out.resolve() in protected:
        raise ExportError(
            f"{out}: refusing to export onto the journal being read ({journal}) "
            "or its -wal/-shm file; choose another --out"
        )


class _Rows:
    """The journal's rows with a decoded message or a decode error, counting the errors."""

    def __init__(self, rows: Iterator[tuple[int, int, str, bytes]]) -> None:
        self._rows = rows
        self._times = _Times()
        self.total = 0
        self.undecodable = 0

    def __iter__(self) -> Iterator[_Event | _Undecodable]:
        times = self._times
        for seq, ts, kind, payload in self._rows:
            self.total += 1
            time = times(ts) if isinstance(ts, int) else None
            message, error = _decode(kind, payload)
            if error is None:
                yield _Event(seq, ts, time, kind, message)
            else:
                self.undecodable += 1
                hexed = payload.hex() if isinstance(payload, bytes) else ""
                yield _Undecodable(seq, ts, time, kind, error, hexed)


def _decode(kind: str, payload: bytes) -> tuple[object, str | None]:
    if not isinstance(payload, bytes):
        return None, f"payload is {type(payload).__name__}, not a blob"
    try:
        message = decode(payload)
    except msgspec.DecodeError as exc:
        return None, str(exc)
    found = type(message).__name__
    if found != kind:
        return None, f"row kind is {kind} but the payload holds a {found}"
    return message, None


def _jsonl(rows: Iterable[_Event | _Undecodable]) -> Iterator[bytes]:
    encode = msgspec.json.Encoder().encode
    for row in rows:
        yield encode(row) + b"\n"


def _csv(rows: Iterable[_Event | _Undecodable]) -> Iterator[bytes]:
    encode = msgspec.json.Encoder().encode
    kinds: dict[str, bytes] = {}  # a handful of kinds: quote each once
    yield _CSV_HEADER
    for row in rows:
        if isinstance(row, _Event):
            message = encode(row.message)
        else:
            message = encode(_Problem(row.error, row.payload_hex))
        kind = kinds.get(row.kind)
        if kind is None:
            kind = kinds[row.kind] = _csv_field(str(row.kind).encode())
        time = b"" if row.time is None else row.time.encode()
        # A ts that SQLite stored as text (a damaged row) is written as it is.
        ts = b"%d" % row.ts if type(row.ts) is int else _csv_field(str(row.ts).encode())
        # The JSON always holds quotes, so the column is always quoted.
        quoted = message.replace(b'"', b'""')
        yield b'%d,%s,%s,%s,"%s"\n' % (row.seq, ts, time, kind, quoted)


def _csv_field(value: bytes) -> bytes:
    """``value`` quoted as RFC 4180 asks when it holds a comma, quote or line break."""
    if any(special in value for special in _CSV_SPECIAL):
        return b'"' + value.replace(b'"', b'""') + b'"'
    return value


class _Times:
    """``ts`` as ISO 8601 UTC with nanoseconds; the date part is reused within a second."""

    def __init__(self) -> None:
        self._second: int | None = None
        self._prefix = ""

    def __call__(self, ts: int) -> str:
        second, fraction = divmod(ts, _NS_PER_SECOND)
        if second != self._second:
            self._prefix = (_EPOCH + timedelta(seconds=second)).isoformat()
            self._second = second
        return f"{self._prefix}.{fraction:09d}Z"


def _iso(ts: int) -> str:
    return _Times()(ts)


def _write(chunks: Iterable[bytes], out: Path | None) -> int:
    """Write ``chunks`` to ``out`` (whole or not at all) or stdout; return the exit status."""
    if out is None:
        return _write_stdout(chunks)
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        # os.open, not a temp file: the export gets the umask's mode like any new file.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise ExportError(f"{out}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as file:
            _copy(chunks, file)
        os.replace(partial, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ExportError(f"{out}: cannot write: {exc.strerror}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return EXIT_OK


def _write_stdout(chunks: Iterable[bytes]) -> int:
    sys.stdout.flush()
    binary: BinaryIO | None = getattr(sys.stdout, "buffer", None)
    try:
        if binary is not None:
            _copy(chunks, binary)
        else:
            for chunk in chunks:
                sys.stdout.write(chunk.decode())
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep Python's own flush at
        # exit from raising again on the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
    return EXIT_OK


def _copy(chunks: Iterable[bytes], file: BinaryIO) -> None:
    pending: list[bytes] = []
    size = 0
    try:
        for chunk in chunks:
            pending.append(chunk)
            size += len(chunk)
            if size >= _FLUSH_BYTES:
                file.write(b"".join(pending))
                pending.clear()
                size = 0
    finally:
        # Rows read before a damaged page go out too, so the output ends exactly at the
        # seq the error names.
        file.write(b"".join(pending))
        file.flush()


def _report_undecodable(rows: _Rows, status: int) -> int:
    if rows.undecodable:
        print(
            f"atrium: {rows.undecodable} of {rows.total} events did not decode; "
            'their rows carry "error" and "payload_hex" instead of "message"',
            file=sys.stderr,
        )
    return status
