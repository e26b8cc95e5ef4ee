"""Live tick-to-order latency: synthetic ticks on the wall clock through all five actors.

    python bench/latency.py [--rates 20000 100000] [--seconds 5] [--journal on|off|both]
                            [--no-uvloop] [--json]

The service's pipeline (LiveClock, the dispatcher, every risk check on) trades an EMA
cross on the ticks of the ``synthetic_live`` feed, which paces them at each rate. The
latency of an order is the wall time from the stamp of the tick that caused it (taken
by the feed as the tick is made) to the moment execution hands the order to the venue
adapter (``submit``). With the journal on, as ``atrium run`` has it, every order is
committed to SQLite before execution acts on it, so that commit is inside the figure.

Printed per rate: ticks sent against ticks due (the feed saturates when it falls
behind), orders, and the latency percentiles.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

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
from atrium.runtime.messages import Order, Tick
from atrium.runtime.recovery import resume_session
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

    def __init__(self, config: ExecutionConfig, sink: EventSink) -> None:
        super().__init__(config, sink, live=True)
        self._tick_ts = 0

    def on_tick(self, tick: Tick) -> None:
        self._tick_ts = tick.ts
        super().on_tick(tick)

    def submit(self, order: Order) -> None:
        TimedVenue.samples_ns.append(time.time_ns() - self._tick_ts)
        super().submit(order)


def bench_config(rate: float, journal: Path | None) -> AtriumConfig:
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
        "journal": {"enabled": journal is not None, "path": str(journal or "unused.sqlite")},
        "runtime": {"log_level": "WARNING"},
    }
    return parse_config(data)


async def session(rate: float, seconds: float, journal_path: Path | None) -> dict[str, Any]:
    """Run the live pipeline for ``seconds`` at ``rate`` ticks/s; return its figures."""
    config = bench_config(rate, journal_path)
    clock = LiveClock()
    pipeline = build_pipeline(config, clock=clock, mode="live")
    journal = None
    if journal_path is not None:
        journal = Journal(journal_path, durable=True)
        await journal.open()
    TimedVenue.samples_ns = []
    ticks = 0

    def count(message: object) -> None:
        nonlocal ticks
        if type(message) is Tick:
            ticks += 1

    async def start() -> None:
        if journal is not None:
            await resume_session(pipeline, journal, config, clock=clock)
        pipeline.dispatcher.add_tap(count)

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
        "journal": journal is not None,
        "ticks_due": round(rate * seconds),
        "ticks_sent": ticks,
        "ticks_per_second": ticks / seconds,
        "orders": len(samples),
        **percentiles_us(samples),
    }


def percentiles_us(samples: list[int]) -> dict[str, float | None]:
    if len(samples) < 2:
        return {"p50_us": None, "p90_us": None, "p99_us": None, "max_us": None}
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50_us": cuts[49] / 1000,
        "p90_us": cuts[89] / 1000,
        "p99_us": cuts[98] / 1000,
        "max_us": samples[-1] / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--journal", choices=["on", "off", "both"], default="both")
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args()
    journals = {"on": [True], "off": [False], "both": [True, False]}[args.journal]
    loop = "asyncio" if args.no_uvloop else "uvloop"
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for journal_on in journals:
            for rate in args.rates:
                path = Path(tmp) / f"j-{rate:g}-{journal_on}.sqlite" if journal_on else None
                results.append(
                    run_loop(
                        lambda r=rate, p=path: session(r, args.seconds, p),
                        use_uvloop=not args.no_uvloop,
                    )
                )
    if args.json:
        print(json.dumps({"loop": loop, "seconds": args.seconds, "results": results}))
        return
    print(f"live tick-to-order latency, {loop}, {args.seconds:g} s per run")
    print(
        f"{'journal':8} {'rate/s':>9} {'sent/s':>9} {'orders':>8} "
        f"{'p50 µs':>9} {'p90 µs':>9} {'p99 µs':>9} {'max µs':>10}"
    )
    for row in results:
        cells = [
            f"{row[key]:>9,.1f}" if row[key] is not None else f"{'-':>9}"
            for key in ("p50_us", "p90_us", "p99_us")
        ]
        top = f"{row['max_us']:>10,.0f}" if row["max_us"] is not None else f"{'-':>10}"
        print(
            f"{'on' if row['journal'] else 'off':8} {row['rate']:>9,.0f} "
            f"{row['ticks_per_second']:>9,.0f} {row['orders']:>8,} {' '.join(cells)} {top}"
        )


if __name__ == "__main__":
    main()
