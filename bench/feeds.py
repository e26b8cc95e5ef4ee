"""Feed throughput (rows parsed and validated per second) and memory of streaming feeds.

- CSV bars: the real one-minute file (``2006-01-02-volume-min-001.txt``, 30,889 rows),
  read ``--bar-passes`` times; and the three daily files merged by timestamp.
- CSV ticks: ``ticksample.csv`` copied ``--tick-copies`` times into one temporary file
  (each copy a day later, so timestamps keep increasing), read as ticks and aggregated
  into one-minute bars.
- Parquet bars: the 1-minute file converted (``atrium data convert``), and tiled
  ``--parquet-copies`` times into one file of about 1.2 million rows, decoded into
  ``Bar`` messages by the feed alone.
- Synthetic GBM feeds of growing size, each consumed streaming in a fresh process: peak
  resident memory (``ru_maxrss``) must not grow with the number of rows. The Python heap
  peak (``tracemalloc``) is measured on smaller runs, where tracing is affordable.

Every feed runs under ``on_error = "fail"``, so a row that does not make it stops the
bench rather than being skipped unnoticed.

    python bench/feeds.py [--bar-passes 5] [--tick-copies 1000] [--full]

``--full`` adds the 10-million-row synthetic run (about a minute more).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

from atrium.actors.market_data import Feed, Rejections, SyntheticFeed, merge_feeds, open_feed
from atrium.config.market_data import FeedConfig, SyntheticConfig

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
LOG = logging.getLogger("atrium.bench")
MINUTE_FILE = "2006-01-02-volume-min-001.txt"
DAILY_FILES = ("nvda-1999-2014.txt", "orcl-1995-2014.txt", "yhoo-1996-2014.txt")


def _rate(label: str, rows: int, seconds: float) -> None:
    print(f"{label:<44} {rows:>11,} rows {seconds:7.2f} s {rows / seconds:>11,.0f} rows/s")


def _count(records: Iterable[object]) -> tuple[int, float]:
    started = time.perf_counter()
    rows = sum(1 for _ in records)
    return rows, time.perf_counter() - started


def _feed(config: FeedConfig, base_dir: Path) -> Feed:
    rejections = Rejections("fail", log=LOG)
    return open_feed(config, base_dir=str(base_dir), rejections=rejections, log=LOG)


def bench_csv_bars(data: Path, passes: int) -> None:
    config = FeedConfig(path=MINUTE_FILE, symbol="ES")
    rows, seconds = 0, 0.0
    for _ in range(passes):
        count, took = _count(_feed(config, data))
        rows, seconds = rows + count, seconds + took
    _rate(f"CSV bars, 1-minute file x{passes}", rows, seconds)
    feeds = [_feed(FeedConfig(path=name), data) for name in DAILY_FILES]
    _rate("CSV bars, 3 daily files merged", *_count(merge_feeds(feeds)))


def _tick_file(data: Path, directory: Path, copies: int) -> Path:
    header, *rows = (data / "ticksample.csv").read_text(encoding="utf-8").splitlines()
    day = rows[0][:10]
    first = date.fromisoformat(day)
    path = directory / "ticks.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write(header + "\n")
        for copy in range(copies):
            shifted = (first + timedelta(days=copy)).isoformat()
            out.writelines(f"{shifted}{row[10:]}\n" for row in rows)
    return path


def bench_ticks(data: Path, copies: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        _tick_file(data, directory, copies)
        ticks = FeedConfig(path="ticks.csv", format="ticks", symbol="ES")
        tick_rows, seconds = _count(_feed(ticks, directory))
        _rate(f"CSV ticks, ticksample x{copies}", tick_rows, seconds)
        bars = FeedConfig(path="ticks.csv", format="ticks", symbol="ES", bar_seconds=60)
        bar_rows, seconds = _count(_feed(bars, directory))
        print(f"  (aggregated into {bar_rows:,} one-minute bars; rate below counts input ticks)")
        _rate("CSV ticks -> 1-minute bars", tick_rows, seconds)


def _minute_parquet(data: Path, directory: Path, copies: int) -> tuple[Path, Path]:
    """The 1-minute CSV converted once, then tiled ``copies`` times (each a year later)."""
    import pyarrow as pa  # noqa: PLC0415 -- optional: only this bench needs it
    import pyarrow.parquet as pq  # noqa: PLC0415

    from atrium.actors.market_data.convert import convert  # noqa: PLC0415

    one = directory / "es.parquet"
    started = time.perf_counter()
    rows, _ = convert([str(data / MINUTE_FILE)], one, symbols=["ES"])
    _rate("convert: CSV -> Parquet, 1-minute file", rows, time.perf_counter() - started)
    table = pq.read_table(one)
    stamps = table.column("timestamp").cast(pa.int64())
    year = 366 * 86_400 * 10**9
    tiles = [
        table.set_column(
            0, "timestamp", pa.compute.add(stamps, copy * year).cast(pa.timestamp("ns", tz="UTC"))
        )
        for copy in range(copies)
    ]
    big = directory / "es-big.parquet"
    tiled = pa.concat_tables(tiles).unify_dictionaries().combine_chunks()
    pq.write_table(tiled.replace_schema_metadata(table.schema.metadata), big)
    return one, big


def bench_parquet(data: Path, copies: int) -> None:
    """Bars decoded into messages from Parquet, the feed alone (aim: >= 1,000,000 rows/s)."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        one, big = _minute_parquet(data, directory, copies)
        _rate("Parquet bars, 1-minute file", *_count(_feed(FeedConfig(path=one.name), directory)))
        _rate(
            f"Parquet bars, 1-minute file tiled x{copies}",
            *_count(_feed(FeedConfig(path=big.name, symbol="ES"), directory)),
        )


def _synthetic(rows: int) -> SyntheticFeed:
    return SyntheticFeed(SyntheticConfig(seed=1, symbols=["SYN"], count=rows))


def child(rows: int) -> None:
    """Stream ``rows`` synthetic bars in this process; print peak memory as JSON."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    count, seconds = _count(_synthetic(rows))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": count, "seconds": seconds, "rss_before": before, "rss_peak": after}))


def bench_synthetic_memory(sizes: list[int]) -> None:
    print("Synthetic GBM, streamed in a fresh process (ru_maxrss, KiB):")
    for rows in sizes:
        output = subprocess.run(
            [sys.executable, __file__, "--child-rows", str(rows)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        result = json.loads(output)
        _rate(f"  synthetic {rows:,} rows", result["rows"], result["seconds"])
        growth = result["rss_peak"] - result["rss_before"]
        print(
            f"{'':4}peak RSS {result['rss_peak']:>9,} KiB "
            f"(after imports {result['rss_before']:,} KiB, growth while streaming {growth:,} KiB)"
        )
    print("Synthetic GBM under tracemalloc (Python heap peak while streaming):")
    for rows in (10_000, 100_000):
        feed = _synthetic(rows)
        tracemalloc.start()
        count = sum(1 for _ in feed)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{'':2}synthetic {count:>9,} rows: heap peak {peak / 1024:8.1f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data directory")
    parser.add_argument("--bar-passes", type=int, default=5)
    parser.add_argument("--tick-copies", type=int, default=1000)
    parser.add_argument("--parquet-copies", type=int, default=40)
    parser.add_argument("--full", action="store_true", help="add the 10,000,000-row run")
    parser.add_argument("--child-rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rows is not None:
        child(args.child_rows)
        return
    LOG.setLevel(logging.ERROR)  # the minute file's repaired header is expected, not news
    print(f"Python {sys.version.split()[0]}")
    bench_csv_bars(args.data, args.bar_passes)
    bench_ticks(args.data, args.tick_copies)
    bench_parquet(args.data, args.parquet_copies)
    sizes = [100_000, 1_000_000] + ([10_000_000] if args.full else [])
    bench_synthetic_memory(sizes)


if __name__ == "__main__":
    main()
