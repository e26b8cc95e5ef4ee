"""Parquet and Arrow IPC feeds (``format = "parquet"`` / ``"arrow"``), read with pyarrow.

A large CSV is parsed on every replay; a columnar file is decoded in batches. Columns are
found by the same names as CSV headers (``timestamp``/``datetime``, ``open`` ...
``volume``; ``price``, ``size`` for ticks; ``columns`` renames), plus an optional
``symbol`` column for a file of several symbols. Timestamps may be Arrow timestamps,
integers (``timestamp_format`` epoch unit; nanoseconds by default) or text read as a CSV
timestamp is. Prices and volumes may be text (``atrium data convert`` writes the CSV's own
text, dictionary-encoded), decimals, integers or floats (through their shortest text);
each distinct text is turned into a ``Decimal`` once per batch, which is what makes
the feed fast. Every record passes the same checks as a CSV row, and a bad one goes to
``on_error`` as ``<file>:row <n>`` (1-based).

pyarrow is an optional dependency (``pip install 'atrium-trading[parquet]'``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from pathlib import Path
from typing import Any, Final

from atrium.actors.market_data.csv_bars import NO_TIMESTAMP
from atrium.actors.market_data.timestamps import Timestamper
from atrium.actors.market_data.validation import (
    UNPARSEABLE,
    bar_problem,
    order_problem,
    tick_problem,
)
from atrium.config.market_data import FeedConfig
from atrium.runtime.errors import FatalInputError
from atrium.runtime.messages import Bar, Tick

__all__ = (
    "ARROW_MAGIC",
    "PARQUET_MAGIC",
    "SYMBOL_KEY",
    "ColumnarFeed",
    "columnar_format",
    "load_pyarrow",
)

PARQUET_MAGIC: Final = b"PAR1"
#: Schema metadata key of the symbol of a one-symbol file.
SYMBOL_KEY: Final = b"atrium.symbol"
ARROW_MAGIC: Final = b"ARROW1"
_BATCH: Final = 65_536
_ZERO: Final = Decimal(0)
_INF: Final = Decimal("Infinity")
_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "timestamp": ("timestamp", "datetime", "date_time", "ts", "time", "date"),
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close", "last"),
    "volume": ("volume", "vol"),
    "price": ("price", "last", "close"),
    "size": ("size", "volume", "qty", "quantity"),
    "symbol": ("symbol",),
}
_EPOCH_UNITS: Final = {"epoch_s": 10**9, "epoch_ms": 10**6, "epoch_us": 10**3, "epoch_ns": 1}

Reject = Callable[[int, str, str], None]


def columnar_format(head: bytes) -> str | None:
    """``parquet`` or ``arrow`` from a file's first bytes, else ``None``."""
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if head.startswith(ARROW_MAGIC):
        return "arrow"
    return None


def load_pyarrow() -> Any:
    try:
        import pyarrow  # noqa: PLC0415 -- optional, loaded only for a columnar feed
        import pyarrow.ipc  # noqa: PLC0415
        import pyarrow.parquet  # noqa: PLC0415
    except ImportError:
        raise FatalInputError(
            "Parquet and Arrow feeds need pyarrow: pip install 'atrium-trading[parquet]'"
        ) from None
    return pyarrow


class ColumnarFeed:
    """Streams the bars or ticks of one Parquet or Arrow IPC file, batch by batch."""

    def __init__(self, path: Path, config: FeedConfig, fmt: str, reject: Reject) -> None:
        self.name = config.feed_name
        self._path = path
        self._config = config
        self._format = fmt
        self._reject = reject
        self._row = 0
        self._rows: int | None = None
        self._symbol = config.feed_symbol
        self.symbols: tuple[str, ...] | None = (self._symbol,)
        self._read_symbols()

    def _read_symbols(self) -> None:
        """The symbol ``atrium data convert`` kept in the schema, or none for a file with a
        symbol column (its symbols are known as it is read)."""
        try:
            schema, _ = self._batches()
        except FatalInputError:
            return  # the run says why when it reads the file
        if "symbol" in [name.lower() for name in schema.names] or "symbol" in self._config.columns:
            self.symbols = None
            return
        recorded = (schema.metadata or {}).get(SYMBOL_KEY)
        if recorded and self._config.symbol is None:
            self._symbol = recorded.decode()
            self.symbols = (self._symbol,)

    def progress(self) -> tuple[int, int | None]:
        """Rows read so far, and the file's rows."""
        return self._row, self._rows

    def location(self) -> str:
        """``file:row n`` of the record read last."""
        return f"{self._config.path}:row {self._row}" if self._row else self._config.path

    def _batches(self) -> tuple[Any, Iterator[Any]]:
        """The schema and the record batches of the file."""
        pa = load_pyarrow()
        source = self._config.path
        try:
            if self._format == "parquet":
                parquet = pa.parquet.ParquetFile(str(self._path))
                self._rows = parquet.metadata.num_rows
                return parquet.schema_arrow, parquet.iter_batches(batch_size=_BATCH)
            reader = pa.ipc.open_file(str(self._path))
            self._rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
            return reader.schema, batches
        except OSError as exc:
            raise FatalInputError(f"{source}: cannot read as {self._format}: {exc}") from None
        except pa.ArrowInvalid as exc:
            raise FatalInputError(f"{source}: not a {self._format} file: {exc}") from None

    def __iter__(self) -> Iterator[Bar | Tick]:
        """The records, by the loop the file's columns call for (one frame per row)."""
        schema, batches = self._batches()
        names = [name.lower() for name in schema.names]
        ticks = self._config.format == "ticks" or (
            "price" in names or "price" in self._config.columns
        )
        roles = ("timestamp", "price", "size") if ticks else _BAR_ROLES
        indices = [self._column(names, schema.names, role) for role in roles]
        symbol_index = self._optional(names, "symbol")
        if symbol_index is not None and self._config.symbol is not None:
            raise FatalInputError(
                f"{self._config.path}: has a symbol column; drop symbol from the feed's config"
            )
        self._row = 0
        decoded = self._decoded(batches, indices, symbol_index)
        if ticks:
            return self._ticks(decoded)
        if symbol_index is not None:
            self.symbols = None
            return self._bars(decoded)
        return self._one_symbol_bars(decoded)

    def _decoded(
        self, batches: Iterator[Any], indices: list[int], symbol_index: int | None
    ) -> Iterator[list[list[Any]]]:
        """Each batch as Python lists: timestamps, the values, then symbols (or the feed's)."""
        columns = _Columns(
            Timestamper(self._config.timezone, self._config.timestamp_format), self._config
        )
        for batch in batches:
            values = [columns.stamps(batch.column(indices[0]))]
            values += [columns.numbers(batch.column(i)) for i in indices[1:]]
            if symbol_index is not None:
                values.append(columns.text(batch.column(symbol_index)))
            else:
                values.append([self._symbol] * batch.num_rows)
            yield values

    def _optional(self, names: list[str], role: str) -> int | None:
        wanted = self._config.columns.get(role)
        if wanted is not None:
            return names.index(wanted.lower()) if wanted.lower() in names else None
        return next((names.index(a) for a in _NAMES[role] if a in names), None)

    def _column(self, names: list[str], shown: list[str], role: str) -> int:
        index = self._optional(names, role)
        if index is None:
            raise FatalInputError(
                f"{self._config.path}: no {role} column among {', '.join(shown)}; "
                f"name it with columns.{role}"
            )
        return index

    def _bars(self, decoded: Iterator[list[list[Any]]]) -> Iterator[Bar]:
        """Bars of a file with a symbol column: times increase per symbol."""
        last: dict[str, int] = {}
        row = 0
        for values in decoded:
            for ts, o, h, lo, c, v, symbol in zip(*values, strict=True):
                row += 1
                previous = last.get(symbol, NO_TIMESTAMP)
                try:
                    if ts > previous:
                        bar = Bar(ts=ts, symbol=symbol, open=o, high=h, low=lo, close=c, volume=v)
                        last[symbol] = ts
                        self._row = row
                        yield bar
                        continue
                except (TypeError, ValueError, ArithmeticError):
                    pass
                self._row = row
                self._reject(row, *_diagnose((o, h, lo, c, v), ts, previous, symbol, bar=True))

    def _one_symbol_bars(self, decoded: Iterator[list[list[Any]]]) -> Iterator[Bar]:
        """The hot loop. ``Bar`` checks its own prices and volume (the rules a CSV row
        passes), so a row costs one comparison of its time and the message itself."""
        previous = NO_TIMESTAMP
        row = 0
        for values in decoded:
            symbol = self._symbol
            for ts, o, h, lo, c, v in zip(*values[:6], strict=True):
                row += 1
                try:
                    if ts > previous:
                        bar = Bar(ts=ts, symbol=symbol, open=o, high=h, low=lo, close=c, volume=v)
                        previous = ts
                        self._row = row
                        yield bar
                        continue
                except (TypeError, ValueError, ArithmeticError):
                    pass
                self._row = row
                self._reject(row, *_diagnose((o, h, lo, c, v), ts, previous, symbol, bar=True))
            self._row = row

    def _ticks(self, decoded: Iterator[list[list[Any]]]) -> Iterator[Tick]:
        """Ticks: prints may share a time (several in one millisecond are real trading)."""
        last: dict[str, int] = {}
        row = 0
        for values in decoded:
            for ts, price, size, symbol in zip(*values, strict=True):
                row += 1
                previous = last.get(symbol, NO_TIMESTAMP)
                try:
                    if ts >= previous:
                        tick = Tick(ts=ts, symbol=symbol, price=price, size=size)
                        last[symbol] = ts
                        self._row = row
                        yield tick
                        continue
                except (TypeError, ValueError, ArithmeticError):
                    pass
                self._row = row
                self._reject(row, *_diagnose((price, size), ts, previous, symbol, bar=False))


_BAR_ROLES: Final = ("timestamp", "open", "high", "low", "close", "volume")


def _diagnose(
    values: tuple[Any, ...], ts: Any, previous: int, symbol: Any, *, bar: bool
) -> tuple[str, str]:
    """The first problem of a record that failed the fast check (as the CSV parser names it)."""
    if ts is None:
        return UNPARSEABLE, "timestamp is missing or cannot be read"
    if symbol is None:
        return UNPARSEABLE, "symbol is missing"
    roles = ("open", "high", "low", "close", "volume") if bar else ("price", "size")
    for role, value in zip(roles, values, strict=True):
        if value is None:
            return UNPARSEABLE, f"{role} is missing or not a number"
    problem = bar_problem(*values) if bar else tick_problem(*values)
    before = None if previous == NO_TIMESTAMP else previous
    problem = problem or order_problem(ts, before, allow_equal=not bar)
    if problem is None:
        raise AssertionError(f"record {values} failed the fast check but passes every rule")
    return problem


class _Columns:
    """Arrow columns to Python values: ``int`` ns timestamps, ``Decimal`` numbers, ``None``
    for a null or a value that does not parse."""

    def __init__(self, stamper: Timestamper, config: FeedConfig) -> None:
        self._stamper = stamper
        self._unit = _EPOCH_UNITS.get(config.timestamp_format or "epoch_ns")
        self._utc = config.timezone == "UTC"
        self._source = config.path
        self._pa = load_pyarrow()

    def text(self, column: Any) -> list[Any]:
        """A text (symbol) column as ``str`` values."""
        return list(column.to_pylist())

    def stamps(self, column: Any) -> list[Any]:
        """Timestamps in ns: Arrow timestamps, epoch integers, or text read as in a CSV."""
        pa = self._pa
        kind = column.type
        if pa.types.is_timestamp(kind):
            if kind.tz is None and not self._utc:
                raise FatalInputError(
                    f"{self._source}: timestamps without a zone are read as UTC; store them "
                    "with one, or drop timezone from the feed's config"
                )
            return list(column.cast(pa.timestamp("ns", tz=kind.tz)).cast(pa.int64()).to_pylist())
        if pa.types.is_integer(kind) and self._unit is not None:
            unit = self._unit
            return [None if x is None else x * unit for x in column.to_pylist()]
        single = self._stamper.single
        out: list[Any] = []
        for text in column.cast(pa.string()).to_pylist():
            try:
                out.append(single(text))
            except (TypeError, ValueError):
                out.append(None)
        return out

    def numbers(self, column: Any) -> list[Any]:
        """Prices or volumes as ``Decimal`` (each distinct text parsed once)."""
        pa = self._pa
        kind = column.type
        if pa.types.is_dictionary(kind):
            decoded = self.numbers(column.dictionary)
            indices = column.indices.to_pylist()
            if column.null_count or len(indices) < 2:
                return [None if i is None else decoded[i] for i in indices]
            return list(itemgetter(*indices)(decoded))
        if pa.types.is_decimal(kind):
            return list(column.to_pylist())
        if pa.types.is_floating(kind):
            return [None if x is None else Decimal(repr(x)) for x in column.to_pylist()]
        if pa.types.is_integer(kind):
            return [None if x is None else Decimal(x) for x in column.to_pylist()]
        cache: dict[str, Decimal | None] = {}
        out: list[Any] = []
        for text in column.cast(pa.string()).to_pylist():
            if text is None:
                out.append(None)
                continue
            value = cache.get(text, _MISSING)
            if value is _MISSING:
                value = cache[text] = _decimal(text)
            out.append(value)
        return out


_MISSING: Final[Any] = object()


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None
