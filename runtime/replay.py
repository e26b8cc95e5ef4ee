"""``atrium replay``: the five actors on a SimClock over recorded feeds, then the reports.

The market data actor releases each recorded event only after the pipeline settled the
previous one, so a replay reproduces the causal order live trading would have had and
two runs of the same feed and config give byte-identical orders and fills. Market data
read from files is referenced in the journal, not copied, unless ``record_market_data``
asks for a copy (:mod:`atrium.runtime.replay_market`).
"""

from __future__ import annotations

import logging
import shutil
import signal
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console

from atrium.config.market_data import MarketDataConfig
from atrium.config.schema import AtriumConfig
from atrium.runtime.capabilities import FEED_REPORT, FeedReport
from atrium.runtime.clocks import SimClock
from atrium.runtime.cluster.wiring import RoleWiring
from atrium.runtime.errors import AtriumError, UsageError
from atrium.runtime.journal import Journal
from atrium.runtime.progress import ReplayProgress
from atrium.runtime.replay_market import (
    MarketDataPlan,
    finish_market_data,
    plan_market_data,
    unfed_feeds,
)
from atrium.runtime.reports.benchmark import BuyAndHold, benchmark_symbols
from atrium.runtime.reports.collect import RunCollector, RunRecord
from atrium.runtime.reports.numbers import show
from atrium.runtime.reports.summary import summarize, write_summary_and_report
from atrium.runtime.topology import Pipeline, build_pipeline

__all__ = ("OUTPUT_FILES", "ReplayOptions", "format_summary", "run_replay")

_log = logging.getLogger(__name__)
#: Summary tables shown on the page and kept in summary.json, too wide for the terminal.
_PAGE_ONLY = frozenset(("monthly_returns", "by_strategy", "by_symbol"))

OUTPUT_FILES = ("journal.sqlite", "trades.csv", "equity.csv", "summary.json", "report.html")


@dataclass(frozen=True)
class ReplayOptions:
    """What the command line adds to the config."""

    out_dir: Path
    feeds: tuple[str, ...] = ()
    #: ``--symbol``: the symbols of ``feeds``, in order.
    symbols: tuple[str, ...] = ()
    speed: float | None = None
    progress: bool = False
    #: Cluster role this process runs (``--role``), with its bridge's wiring.
    sections: dict[str, Any] | None = None
    #: Copy the market data into the journal (in blocks) instead of referencing its files.
    record_market_data: bool = False


def _prepare_out_dir(out_dir: Path, feeds: list[Path]) -> Path:
    """A new empty directory beside ``out_dir`` that the run writes into (see ``_publish``)."""
    journal = out_dir / "journal.sqlite"
    for feed in feeds:
        if feed.resolve() == journal.resolve():
            raise UsageError(
                f"--out {out_dir} would overwrite the feed {feed}; choose another output directory"
            )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):  # the outputs are moved in at the end
            pass
        return Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.partial-"))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(
            f"--out {out_dir}: cannot write there ({reason}); choose a writable directory"
        ) from None


def _publish(staging: Path, out_dir: Path) -> None:
    """Move a finished run's files from ``staging`` into ``out_dir``, replacing the old ones."""
    for name in ("journal.sqlite-wal", "journal.sqlite-shm"):
        (out_dir / name).unlink(missing_ok=True)
    for name in OUTPUT_FILES:
        (staging / name).replace(out_dir / name)
    shutil.rmtree(staging)


async def run_replay(config: AtriumConfig, options: ReplayOptions) -> dict[str, Any]:
    """Run the replay, write every output file, and return the summary.

    The files are written into a directory beside ``options.out_dir`` and moved into it only
    when the run finished, so a failed run leaves the previous outputs as they were.
    """
    sections = dict(options.sections or {})
    reads = any(spec.section == "market_data" for spec in config.topology.actors.values())
    if options.feeds and not reads:
        raise UsageError(
            "--feed: this process reads no market data (in a cluster replay give --feed to "
            "the roles that read the feeds)"
        )
    plan = plan_market_data(
        config.market_data if reads else None,
        feeds=options.feeds,
        symbols=options.symbols,
        speed=options.speed,
        copy=options.record_market_data,
        cluster="cluster" in sections,
    )
    feed_paths: list[Path] = []
    if plan.section is not None:
        market_data = plan.section
        feed_paths = [Path(market_data.base_dir, f.path) for f in market_data.feeds if f.path]
        if plan.replayed is not None:
            feed_paths.append(Path(plan.replayed_from))
        sections["market_data"] = market_data
        if _part(sections) != "follower":  # a strategy role reads what it does not trade
            _warn_unfed(config, market_data)
    staging = _prepare_out_dir(options.out_dir, feed_paths)
    try:
        summary = await _replay_into(staging, config, options, sections, plan)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # the previous outputs stay as they were
        raise
    _publish(staging, options.out_dir)
    return summary


def _part(sections: dict[str, Any]) -> str | None:
    """A cluster role's part in a replay whose roles read the feeds themselves (None:
    not one)."""
    wiring = sections.get("cluster")
    if not isinstance(wiring, RoleWiring) or wiring.local is None:
        return None
    return wiring.local.part


def _warn_unfed(config: AtriumConfig, section: MarketDataConfig) -> None:
    """Say so when a feed's symbol is traded by no strategy: such a run makes no trade."""
    strategies = {
        name: list(spec.symbols) for name, spec in config.strategies.items() if spec.enabled
    }
    if config.replay.benchmark and strategies:
        strategies["the benchmark"] = list(config.replay.benchmark)
    for warning in unfed_feeds(section, strategies):
        _log.warning("%s", warning)


async def _replay_into(
    staging: Path,
    config: AtriumConfig,
    options: ReplayOptions,
    sections: dict[str, Any],
    plan: MarketDataPlan,
) -> dict[str, Any]:
    journal_path = staging / "journal.sqlite"
    pipeline = build_pipeline(config, clock=SimClock(), mode="replay", sections=sections)
    slot = pipeline.slots.get("market_data")
    plan = plan.for_actor(slot)
    journal = Journal(journal_path, batch_size=config.journal.batch_size, market_data=plan.mode)
    await journal.open()
    pipeline.dispatcher.add_tap(journal.record)
    pipeline.dispatcher.add_gate(journal)
    collector = RunCollector(staging, Decimal(config.portfolio.initial_capital))
    pipeline.dispatcher.add_tap(collector.add, kinds=RunCollector.KINDS)
    benchmark = BuyAndHold(float(config.portfolio.initial_capital), benchmark_symbols(config))
    pipeline.dispatcher.add_tap(benchmark.add, kinds=BuyAndHold.KINDS)
    started = time.perf_counter()
    progress = options.progress and "market_data" in pipeline.slots  # a role may send none
    # Signals are held until the journal is closed (see Supervisor.watch_signals).
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        failed: AtriumError | None = None
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(journal.run_writer)
                tg.start_soon(pipeline.supervisor.watch_signals, signals)
                if progress:
                    tg.start_soon(_show_progress, pipeline, started)
                try:
                    await pipeline.supervisor.run(stop_when_sources_finish=True)
                except AtriumError as exc:  # raised below as itself, not in a group
                    failed = exc
                finally:
                    tg.cancel_scope.cancel()
            if failed is None:
                await finish_market_data(plan, journal, slot.actor if slot else None)
        finally:
            await journal.close()
            collector.close()
            benchmark.finish()
    if failed is not None:
        raise failed
    wall_seconds = time.perf_counter() - started
    return _write_outputs(
        config, staging, collector.record, pipeline, wall_seconds, benchmark=benchmark
    )


def _write_outputs(
    config: AtriumConfig,
    out_dir: Path,
    record: RunRecord,
    pipeline: Pipeline,
    wall_seconds: float,
    *,
    benchmark: BuyAndHold,
) -> dict[str, Any]:
    rejected: Counter[str] = Counter()
    for feed in pipeline.capabilities.every(FEED_REPORT):
        rejected.update(feed.rejected_counts())
    run = {
        "rejected_records": dict(sorted(rejected.items())),
        "dead_letters": sum(slot.stats.dead_letters for slot in pipeline.slots.values()),
        "wall_seconds": wall_seconds,
    }
    rf = config.replay.risk_free_rate
    summary = summarize(record, rf, run, trades_csv=out_dir / "trades.csv", benchmark=benchmark)
    write_summary_and_report(out_dir, record, summary, config, benchmark)
    return summary


async def _show_progress(pipeline: Pipeline, started: float) -> None:
    def update() -> None:
        feeds = pipeline.capabilities.every(FEED_REPORT)
        if feeds:
            done, total = _progress(feeds)
            bar.update(done, total, time.perf_counter() - started)

    with ReplayProgress(Console(stderr=True)) as bar:
        try:
            while True:
                await anyio.sleep(0.25)
                update()
        finally:
            update()  # when cancelled at the end: the final figures, not the last sample's


def _progress(feeds: list[FeedReport]) -> tuple[int, int | None]:
    """Records sent, and in all (None while any feed's total is unknown), over every feed."""
    figures = [feed.progress() for feed in feeds]
    totals = [total for _, total in figures if total is not None]
    return sum(done for done, _ in figures), sum(totals) if len(totals) == len(figures) else None


def format_summary(summary: dict[str, Any], out_dir: Path) -> str:
    """The summary as a short aligned table for the terminal, figures as a person reads them."""
    lines = []
    for key, value in summary.items():
        if key in _PAGE_ONLY:
            continue
        if isinstance(value, dict):
            shown = ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
        else:
            shown = show(key, value) if value is not None else "None"
        lines.append(f"  {key:<22} {shown}")
    files = ", ".join(OUTPUT_FILES)
    return "replay summary\n" + "\n".join(lines) + f"\nwrote {files} to {out_dir}"
