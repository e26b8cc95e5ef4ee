"""Live tick-to-order latency: synthetic ticks on the wall clock through all five actors.

    python bench/latency.py [--rates 20000 100000] [--seconds 5]
                            [--journal off process power ...] [--no-uvloop] [--json]

The service's pipeline (LiveClock, the dispatcher, every risk check on) trades an EMA
cross on the ticks of the ``synthetic_live`` feed, which paces them at each rate. The
latency of an order is the wall time from the stamp of the tick that caused it (taken
by the feed as the tick is made) to the moment execution hands the order to the venue
adapter (``submit``). With the journal on, as ``atrium run`` has it (at each level of
``[journal].durability``), every order is committed to SQLite before execution acts on
it, so that commit is inside the figure.

Printed per rate and journal: ticks sent against ticks due (the feed saturates when it
falls behind), orders, the latency percentiles, and the median of each step of the
path: tick recorded (feed stamp to publish), strategy intent, sized, approved (risk),
journal commit, venue submit; and the order commit alone (the journal's own figure).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import anyio

from atrium.actors.execution.adapter import EventSink
from atrium.actors.execution.paper import PaperVenue
from atrium.actors.strategy.api import Strategy
from atrium.config import parse_config
from atrium.config.base import ConfigBase
from atrium.config.execution import ExecutionConfig
from atrium.config.schema import AtriumConfig
from atrium.runtime.clocks import LiveClock
from atrium.runtime.eventloop import run as run_loop
from atrium.runtime.journal import Journal
from atrium.runtime.messages import Order, OrderIntent, SizedOrder, Tick
from atrium.runtime.recovery import resume_session
from atrium.runtime.service import live_journal as open_journal
from atrium.runtime.topology import build_pipeline

_ZERO = Decimal(0)


class TickCrossParams(ConfigBase, frozen=True, kw_only=True):
    fast: int = 4
    slow: int = 12
    quantity: Decimal = Decimal(10)


class TickCross(Strategy[TickCrossParams]):
    """EMA cross on tick prices, long/short: with these spans it orders every few ticks."""

    Params = TickCrossParams

    def on_start(self) -> None:
        self._fast: dict[str, float] = {}
        self._slow: dict[str, float] = {}
        self._sign: dict[str, int] = {}
        self._alpha_fast = 2.0 / (self.params.fast + 1)
        self._alpha_slow = 2.0 / (self.params.slow + 1)

    def on_tick(self, tick: Tick) -> None:
        symbol, price = tick.symbol, float(tick.price)
        fast = self._fast.get(symbol, price)
        slow = self._slow.get(symbol, price)
        fast += self._alpha_fast * (price - fast)
        slow += self._alpha_slow * (price - slow)
        self._fast[symbol], self._slow[symbol] = fast, slow
        sign = 1 if fast > slow else -1 if fast < slow else 0
        previous = self._sign.get(symbol, 0)
        self._sign[symbol] = sign
        if not sign or previous in (0, sign):
            return
        position = self.position(symbol)
        if position:
            self.close(symbol)
        if sign > 0:
            self.buy(symbol, self.params.quantity)
        else:
            self.sell(symbol, self.params.quantity)


class TimedVenue(PaperVenue):
    """The live paper venue, noting how long after its tick each order was handed over."""

    samples_ns: list[int] = []  # noqa: RUF012 -- one run per process: a plain class store
    steps: Steps | None = None

    def __init__(self, config: ExecutionConfig, sink: EventSink) -> None:
        super().__init__(config, sink, live=True)
        self._tick_ts = 0

    def on_tick(self, tick: Tick) -> None:
        self._tick_ts = tick.ts
        super().on_tick(tick)

    def submit(self, order: Order) -> None:
        now = time.time_ns()
        TimedVenue.samples_ns.append(now - self._tick_ts)
        if TimedVenue.steps is not None:
            TimedVenue.steps.submitted(now)
        super().submit(order)


#: The steps of the path, in order; each is timed from the end of the one before.
STEPS = ("tick_recorded", "strategy_intent", "sized", "approved", "journal_commit", "venue_submit")


class Steps:
    """Wall time of each step of the order path (a dispatcher tap and a commit wrapper).

    Handling is one message at a time, so the newest time of each step is the one of
    the order being submitted. Only the first order after a tick counts: a second one
    (a close, then the new side) waits for the first's commit and submit besides.
    """

    _marks: Final = {Tick: 0, OrderIntent: 1, SizedOrder: 2, Order: 3}

    def __init__(self) -> None:
        self.times = [0] * 5
        self.tick_ts = 0
        self.shares: list[list[int]] = [[] for _ in STEPS]
        self.commits_ns: list[int] = []
        self._first = False

    def tap(self, message: object) -> None:
        index = self._marks.get(type(message))  # type: ignore[call-overload]
        if index is not None:
            now = time.time_ns()
            self.times[index] = now
            if index == 0:
                self.tick_ts = message.ts  # type: ignore[attr-defined]
                self._first = True
            elif index == 3:
                self.times[4] = now  # no commit (journal off): the step takes nothing

    def wrap_commit(self, journal: Journal) -> None:
        commit = journal.commit

        async def timed() -> None:
            start = time.time_ns()
            await commit()
            self.times[4] = end = time.time_ns()
            self.commits_ns.append(end - start)

        journal.commit = timed  # type: ignore[method-assign]

    def submitted(self, now: int) -> None:
        if not self._first:
            return
        self._first = False
        tick, intent, sized, approved, committed = self.times
        marks = (self.tick_ts, tick, intent, sized, approved, committed, now)
        for step, (start, end) in enumerate(itertools.pairwise(marks)):
            self.shares[step].append(end - start)


def bench_config(rate: float, journal: Path | None, durability: str) -> AtriumConfig:
    data: dict[str, Any] = {
        "market_data": {
            "feeds": [
                {
                    "format": "synthetic_live",
                    "synthetic_live": {
                        "seed": 7,
                        "symbols": ["AAA", "BBB"],
                        "rate_per_second": rate,
                        "volatility": 0.5,
                    },
                }
            ]
        },
        "strategies": {
            "cross": {"class": f"{__name__}:TickCross", "symbols": ["AAA", "BBB"], "params": {}}
        },
        "portfolio": {"position_sizing_mode": "fixed_qty", "max_leverage": 2},
        "risk": {
            "max_order_notional": 10_000_000,
            "max_order_rate": 10_000_000,
            "price_band_pct": 0.5,
            "max_drawdown_pct": 0.99,
            "max_daily_loss_pct": 0.99,
        },
        "execution": {"venue": f"{__name__}:TimedVenue", "commission_per_share": "0.0005"},
        "journal": {
            "enabled": journal is not None,
            "path": str(journal or "unused.sqlite"),
            "durability": durability,
        },
        "runtime": {"log_level": "WARNING"},
    }
    return parse_config(data)


async def session(rate: float, seconds: float, durability: str, tmp: Path) -> dict[str, Any]:
    """Run the live pipeline for ``seconds`` at ``rate`` ticks/s; return its figures."""
    journal_path = None if durability == "off" else tmp / f"j-{rate:g}-{durability}.sqlite"
    config = bench_config(rate, journal_path, "process" if durability == "off" else durability)
    clock = LiveClock()
    pipeline = build_pipeline(config, clock=clock, mode="live")
    journal = open_journal(config) if journal_path is not None else None
    if journal is not None:
        await journal.open()
    TimedVenue.samples_ns = []
    steps = TimedVenue.steps = Steps()
    ticks = 0

    def count(message: object) -> None:
        nonlocal ticks
        if type(message) is Tick:
            ticks += 1

    async def start() -> None:
        if journal is not None:
            await resume_session(pipeline, journal, config, clock=clock)
            steps.wrap_commit(journal)
        pipeline.dispatcher.add_tap(count)
        pipeline.dispatcher.add_tap(steps.tap)

    async def stop_later() -> None:
        await anyio.sleep(seconds)
        pipeline.supervisor.request_stop("bench over")

    async with anyio.create_task_group() as tg:
        if journal is not None:
            tg.start_soon(journal.run_writer)
        tg.start_soon(stop_later)
        await pipeline.supervisor.run(before_sources=start)
        tg.cancel_scope.cancel()
    if journal is not None:
        await journal.close()
    samples = sorted(TimedVenue.samples_ns)
    return {
        "rate": rate,
        "journal": durability,
        "ticks_due": round(rate * seconds),
        "ticks_sent": ticks,
        "ticks_per_second": ticks / seconds,
        "orders": len(samples),
        **percentiles_us(samples),
        "commit_p50_us": median_us(steps.commits_ns),
        "steps_p50_us": {name: median_us(steps.shares[i]) for i, name in enumerate(STEPS)},
    }


def median_us(samples: list[int]) -> float | None:
    return statistics.median(samples) / 1000 if samples else None


def percentiles_us(samples: list[int]) -> dict[str, float | None]:
    if len(samples) < 2:
        return {"p50_us": None, "p99_us": None, "p999_us": None, "max_us": None}
    cuts = statistics.quantiles(samples, n=1000, method="inclusive")
    return {
        "p50_us": cuts[499] / 1000,
        "p99_us": cuts[989] / 1000,
        "p999_us": cuts[998] / 1000,
        "max_us": samples[-1] / 1000,
    }


def _cell(value: float | None, width: int = 9) -> str:
    return f"{value:>{width},.1f}" if value is not None else f"{'-':>{width}}"


def print_table(loop: str, seconds: float, results: list[dict[str, Any]]) -> None:
    print(f"live tick-to-order latency, {loop}, {seconds:g} s per run")
    print(
        f"{'journal':8} {'rate/s':>9} {'sent/s':>9} {'orders':>7} {'p50 µs':>9} {'p99 µs':>9} "
        f"{'p99.9 µs':>9} {'max µs':>9} {'commit':>7}"
    )
    for row in results:
        cells = " ".join(_cell(row[key]) for key in ("p50_us", "p99_us", "p999_us", "max_us"))
        print(
            f"{row['journal']:8} {row['rate']:>9,.0f} {row['ticks_per_second']:>9,.0f} "
            f"{row['orders']:>7,} {cells} {_cell(row['commit_p50_us'], 7)}"
        )
    print("\nmedian µs per step of the path (tick stamp to venue submit)")
    print(f"{'journal':8} {'rate/s':>9} " + " ".join(f"{name:>15}" for name in STEPS))
    for row in results:
        cells = " ".join(_cell(row["steps_p50_us"][name], 15) for name in STEPS)
        print(f"{row['journal']:8} {row['rate']:>9,.0f} {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--journal",
        nargs="+",
        choices=["off", "process", "power"],
        default=["off", "process", "power"],
        help="journal off, or on at these durability levels",
    )
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args()
    loop = "asyncio" if args.no_uvloop else "uvloop"
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for durability in args.journal:
            for rate in args.rates:
                results.append(
                    run_loop(
                        functools.partial(session, rate, args.seconds, durability, Path(tmp)),
                        use_uvloop=not args.no_uvloop,
                    )
                )
    if args.json:
        print(json.dumps({"loop": loop, "seconds": args.seconds, "results": results}))
        return
    print_table(loop, args.seconds, results)


if __name__ == "__main__":
    main()
