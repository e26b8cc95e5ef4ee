"""Recovery time of a restarted service for journals of 100k and 1M events.

    python bench/recovery.py [--events 100000 1000000] [--snapshot-every 50000] [--full]

For each size: a live session (the service's pipeline, durable journal, snapshots every
``--snapshot-every`` events) trades an EMA cross on seeded synthetic bars until the
journal holds that many events; then a new pipeline starts on the journal, as after a
kill. Printed: the snapshot recovery started from, the events it re-ran, the time the
recovery took, and the time from the process's pipeline build to ready (which here
includes the synthetic feed generating again the bars it skips as already sent; a live
feed skips nothing). ``--full`` also times the recovery
of a copy without snapshots (every event re-run), to show what snapshots buy.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sqlite3
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

from atrium.config import parse_config
from atrium.config.schema import AtriumConfig
from atrium.runtime.clocks import LiveClock
from atrium.runtime.eventloop import run as run_loop
from atrium.runtime.journal import Journal
from atrium.runtime.recovery import RecoveryReport, resume_session
from atrium.runtime.topology import build_pipeline


def bench_config(journal: Path, snapshot_every: int) -> AtriumConfig:
    start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()
    data: dict[str, Any] = {
        "market_data": {
            "feeds": [
                {
                    "format": "synthetic",
                    "synthetic": {
                        "seed": 42,
                        "symbols": ["AAA", "BBB"],
                        "count": 10_000_000,
                        "start": start,
                    },
                }
            ]
        },
        "strategies": {
            "cross": {
                "class": "atrium.actors.strategy.bundled.ema_cross:EmaCross",
                "symbols": ["AAA", "BBB"],
                "params": {"fast": 4, "slow": 12, "allow_short": True},
            }
        },
        "portfolio": {
            "position_sizing_mode": "fixed_risk_atr",
            "max_risk_per_trade_pct": 0.001,
            "max_leverage": 2,
            "strategy_budgets": {"cross": {"capital_pct": 0.9}},
            "commission": {"per_share": "0.0005"},
        },
        "risk": {
            "max_order_notional": 10_000_000,
            "max_order_rate": 1_000_000,
            "price_band_pct": 0.5,
            "max_drawdown_pct": 0.99,
            "max_daily_loss_pct": 0.99,
        },
        "execution": {"slippage_bps": "0.1", "commission_per_share": "0.0005"},
        "journal": {"path": str(journal), "snapshot_every": snapshot_every},
        "runtime": {"log_level": "WARNING"},
    }
    return parse_config(data)


async def record(config: AtriumConfig, events: int) -> float:
    """Run a live session until the journal holds ``events`` events; return its seconds."""
    clock = LiveClock()
    pipeline = build_pipeline(config, clock=clock, mode="live")
    journal = Journal(Path(config.journal.path), durable=True)
    await journal.open()

    async def start() -> None:
        await resume_session(pipeline, journal, config, clock=clock)
        snapshot = pipeline.dispatcher.on_settled

        def settled() -> None:
            if snapshot is not None:
                snapshot()
            if journal.next_seq > events:
                pipeline.supervisor.request_stop("journal full")

        pipeline.dispatcher.on_settled = settled

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        tg.start_soon(journal.run_writer)
        await pipeline.supervisor.run(before_sources=start)
        tg.cancel_scope.cancel()
    await journal.close()
    return time.perf_counter() - started


async def recover_once(config: AtriumConfig) -> tuple[RecoveryReport, float]:
    """Start a pipeline on the journal, recover, stop; return the report and wall seconds."""
    clock = LiveClock()
    started = time.perf_counter()
    pipeline = build_pipeline(config, clock=clock, mode="live")
    journal = Journal(Path(config.journal.path), durable=True)
    await journal.open()
    reports: list[RecoveryReport | None] = []

    async def start() -> None:
        reports.append(await resume_session(pipeline, journal, config, clock=clock))
        pipeline.supervisor.request_stop("recovered", immediate=True)

    async with anyio.create_task_group() as tg:
        tg.start_soon(journal.run_writer)
        await pipeline.supervisor.run(before_sources=start)
        tg.cancel_scope.cancel()
    await journal.close()
    report = reports[0]
    assert report is not None
    return report, time.perf_counter() - started


def without_snapshots(path: Path, target: Path) -> None:
    shutil.copyfile(path, target)
    with closing(sqlite3.connect(target)) as db:
        db.execute("DELETE FROM snapshots")
        db.commit()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--snapshot-every", type=int, default=50_000)
    parser.add_argument(
        "--full", action="store_true", help="also time a recovery without snapshots"
    )
    args = parser.parse_args()
    print(
        f"{'events':>10} {'recorded in':>12} {'snapshot':>10} {'re-run':>8} {'recovery':>9}  mode"
    )
    with tempfile.TemporaryDirectory() as directory:
        for events in args.events:
            path = Path(directory, f"journal-{events}.sqlite")
            config = bench_config(path, args.snapshot_every)
            recorded = run_loop(lambda c=config, n=events: record(c, n))
            cases = [("snapshots", config)]
            if args.full:
                full = Path(directory, f"full-{events}.sqlite")
                without_snapshots(path, full)
                cases.append(("full re-run", bench_config(full, args.snapshot_every)))
            for mode, case in cases:
                report, wall = run_loop(lambda c=case: recover_once(c))
                print(
                    f"{report.last_seq:>10,} {recorded:>11.1f}s {report.snapshot_seq:>10,} "
                    f"{report.replayed:>9,} {report.seconds:>8.2f}s {wall:>9.2f}s  {mode}"
                )
    print(f"peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
