"""``atrium run`` killed with SIGKILL at random points and restarted ends where an
uninterrupted run ends: same positions, cash and realized PnL, no order id twice, no
fill missing.

Both runs read the same deterministic loopback trade stream (real one-minute data as
trades, resent from the start on every connection, as an exchange resends). The
uninterrupted run goes to the end of the stream once. The crash run is killed with
SIGKILL as soon as its journal holds each of a dozen seeded random numbers of ticks (or
25 more than it held at the start, whichever is later), restarted at once on the same
journal each time, and finally let run to the end.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import time
import urllib.request
from contextlib import closing
from pathlib import Path

import msgspec
import pytest
from loopback_feed import (
    MINUTE_BARS,
    LoopbackTradeServer,
    atrium_run,
    free_port,
    trades_from_minute_bars,
    write_service_config,
)
from recovery_kit import events, order_flow, repeated

from atrium.runtime.errors import JournalError
from atrium.runtime.journal_market import iter_records
from atrium.runtime.messages import Bar, PortfolioSnapshot, Tick

BARS = 600
KILLS = 12
STARTUP_SECONDS = 20.0
RUN_SECONDS = 60.0
SIZING = {"sizing_mode": "fixed_risk_atr", "risk_per_trade_pct": 0.002}


def _ticks(journal: Path) -> int:
    if not journal.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"{journal.as_uri()}?mode=ro", uri=True)) as db:
            count = sum(1 for _ in iter_records(db, str(journal), kinds=["Tick"]))
    except (sqlite3.OperationalError, JournalError):  # created, no tables yet
        return 0
    return int(count)


def _wait_for_ticks(
    process: subprocess.Popen[bytes], journal: Path, count: int, log: Path, seconds: float
) -> None:
    deadline = time.monotonic() + seconds
    while _ticks(journal) < count:
        if process.poll() is not None:
            raise AssertionError(f"atrium run exited with {process.returncode}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{_ticks(journal)} of {count} ticks after {seconds} s:\n{log.read_text()}"
            )
        time.sleep(0.005)


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Until ``/readyz`` answers 200: recovered and trading, its signal handlers set."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if process.poll() is not None:
            raise AssertionError(f"atrium run exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:  # not serving yet, or 503 while it recovers
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"not ready after {STARTUP_SECONDS} s:\n{log.read_text()}")
        time.sleep(0.02)


def _run_to_end(config: Path, journal: Path, log: Path, ticks: int, port: int) -> None:
    with atrium_run(config, log) as process:
        # The journal may hold every tick already (the last kill came after the last one):
        # a stop sent before the service set its signal handlers would kill it instead.
        _wait_ready(process, port, log)
        _wait_for_ticks(process, journal, ticks, log, RUN_SECONDS)
        time.sleep(0.3)  # the last bar's order flow settles and is committed
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, log.read_text()


def _final_account(journal: Path) -> PortfolioSnapshot:
    snapshots = [m for _, m in events(journal) if isinstance(m, PortfolioSnapshot)]
    return msgspec.structs.replace(snapshots[-1], ts=0)


@pytest.mark.timeout(300)
def test_run_when_killed_at_random_points_then_final_account_as_uninterrupted(
    tmp_path: Path,
) -> None:
    trades = trades_from_minute_bars(MINUTE_BARS, "ES", BARS)
    with LoopbackTradeServer(trades) as server:
        port = free_port()
        reference = tmp_path / "reference.sqlite"
        reference_config = write_service_config(
            tmp_path / "reference.toml",
            url=server.url,
            symbol="ES",
            journal=reference,
            port=port,
            sizing=SIZING,
            snapshot_every=500,
        )
        _run_to_end(reference_config, reference, tmp_path / "reference.log", len(trades), port)

        crashed = tmp_path / "crashed.sqlite"
        crash_config = write_service_config(
            tmp_path / "crashed.toml",
            url=server.url,
            symbol="ES",
            journal=crashed,
            port=port,
            sizing=SIZING,
            snapshot_every=500,
        )
        log = tmp_path / "crashed.log"
        points = sorted(random.Random(20261122).sample(range(50, len(trades) - 50), KILLS))
        for point in points:
            # Past what the journal holds already, so every start recovers and trades on;
            # never past the stream's end (a kill lands some ticks after its point, and
            # near the end the next point plus 25 may lie beyond the last tick).
            target = min(max(point, _ticks(crashed) + 25), len(trades))
            with atrium_run(crash_config, log) as process:
                _wait_for_ticks(process, crashed, target, log, STARTUP_SECONDS)
                process.send_signal(signal.SIGKILL)
                assert process.wait(timeout=10) == -signal.SIGKILL
        _run_to_end(crash_config, crashed, log, len(trades), port)

    reference_orders, reference_fills = order_flow(reference)
    orders, fills = order_flow(crashed)
    assert len(reference_fills) >= 20  # the session traded: the comparison means something
    assert _final_account(crashed) == _final_account(reference)
    assert repeated([order.order_id for order in orders]) == []
    assert repeated([fill.fill_id for fill in fills]) == []
    assert (orders, fills) == (reference_orders, reference_fills)
    market = [(type(m), m) for _, m in events(crashed) if isinstance(m, Bar | Tick)]
    assert market == [(type(m), m) for _, m in events(reference) if isinstance(m, Bar | Tick)]
    log_text = log.read_text()
    assert log_text.count("atrium.recovery: recovered") == KILLS
    with closing(sqlite3.connect(crashed)) as db:
        (sessions,) = db.execute("SELECT COUNT(*) FROM sessions").fetchone()
    assert sessions == KILLS + 1
