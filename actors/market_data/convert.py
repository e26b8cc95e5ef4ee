"""``atrium data convert``: CSV feeds into one Parquet or Arrow IPC file, parsed once.

Each CSV is read by the CSV feed itself (same layout detection, time zone, ``adjust`` and
checks; a bad row stops the conversion with its line number, or is skipped and counted
with ``--on-error skip``), so the file holds exactly the records a replay of the CSV
would send. Prices and volumes are written as the ``Decimal`` text the CSV feed made
(``1.750000`` stays ``1.750000``), dictionary-encoded, and timestamps as UTC nanoseconds;
a replay of the converted file sends the same ``Bar`` messages, so it makes the same
fills. The symbol of one CSV is kept in the schema's metadata (``atrium.symbol``); several
CSVs are merged by timestamp into one file with a ``symbol`` column.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final, Literal

from atrium.actors.market_data.columnar import SYMBOL_KEY, load_pyarrow
from atrium.actors.market_data.feeds import open_feed
from atrium.actors.market_data.merge import merge_feeds
from atrium.actors.market_data.rejections import Rejections
from atrium.config.market_data import FeedConfig
from atrium.runtime.errors import FatalInputError, UsageError
from atrium.runtime.messages import Bar, Control, Tick

__all__ = ("convert",)

_LOG: Final = logging.getLogger("atrium.data")
_ROWS_PER_GROUP: Final = 262_144
_ARROW_SUFFIXES: Final = (".arrow", ".feather", ".ipc")


def _output_format(out: Path) -> Literal["parquet", "arrow"]:
    if out.suffix.lower() == ".parquet":
        return "parquet"
    if out.suffix.lower() in _ARROW_SUFFIXES:
        return "arrow"
    raise UsageError(f"--out {out}: name a .parquet file, or .arrow / .feather for Arrow IPC")


def _table(records: Iterable[Bar | Tick | Control], with_symbol: bool) -> Any:
    """The records as an Arrow table (bars or ticks, by the first record)."""
    pa = load_pyarrow()
    columns: dict[str, list[Any]] = {}
    names: tuple[str, ...] = ()
    for record in records:
        if isinstance(record, Control):  # a CSV feed sends none
            continue
        if not columns:
            is_bar = type(record) is Bar
            names = ("open", "high", "low", "close", "volume") if is_bar else ("price", "size")
            columns = {"timestamp": [], "symbol": [], **{role: [] for role in names}}
        columns["timestamp"].append(record.ts)
        columns["symbol"].append(record.symbol)
        for role in names:
            columns[role].append(str(getattr(record, role)))
    if not columns:
        raise FatalInputError("no valid record to convert")
    arrays = {"timestamp": pa.array(columns.pop("timestamp"), pa.timestamp("ns", tz="UTC"))}
    symbols = columns.pop("symbol")
    metadata = None
    if with_symbol:
        arrays["symbol"] = pa.array(symbols).dictionary_encode()
    else:
        metadata = {SYMBOL_KEY: symbols[0].encode()}
    for role, values in columns.items():
        arrays[role] = pa.array(values, pa.string()).dictionary_encode()
    return pa.table(arrays, metadata=metadata)


def convert(
    inputs: Sequence[str],
    out: Path,
    *,
    symbols: Sequence[str] = (),
    fmt: str = "auto",
    adjust: str = "none",
    timezone: str = "UTC",
    on_error: Literal["skip", "fail"] = "fail",
) -> tuple[int, dict[str, int]]:
    """Write ``inputs`` (CSV paths) into ``out``; return rows written and rejected per reason.

    ``symbols`` names the inputs' symbols in order (default: from each file name).
    """
    kind = _output_format(out)
    if len(symbols) > len(inputs):
        raise UsageError(f"--symbol: {len(symbols)} given for {len(inputs)} files")
    rejections = Rejections(on_error, log=_LOG)
    feeds = []
    for index, path in enumerate(inputs):
        try:
            config = FeedConfig(
                path=str(Path(path).resolve()),
                format=fmt,  # type: ignore[arg-type]  # checked by FeedConfig
                symbol=symbols[index] if index < len(symbols) else None,
                adjust=adjust,  # type: ignore[arg-type]
                timezone=timezone,
            )
        except ValueError as exc:
            raise UsageError(f"{path}: {exc}") from None
        feeds.append(open_feed(config, base_dir=".", rejections=rejections, log=_LOG))
    if not feeds:
        raise UsageError("name at least one CSV file to convert")
    records = (record for _, record in merge_feeds(feeds)) if len(feeds) > 1 else iter(feeds[0])
    table = _table(records, with_symbol=len(feeds) > 1)
    _write(table, out, kind)
    return table.num_rows, rejections.counts()


def _write(table: Any, out: Path, kind: str) -> None:
    pa = load_pyarrow()
    partial = out.with_name(f".{out.name}.partial")
    if kind == "parquet":
        pa.parquet.write_table(table, str(partial), row_group_size=_ROWS_PER_GROUP)
    else:
        with pa.ipc.new_file(str(partial), table.schema) as writer:
            writer.write_table(table, max_chunksize=_ROWS_PER_GROUP)
    partial.replace(out)
