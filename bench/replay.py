"""End-to-end replay throughput: synthetic bars through all five actors, journal on.

    python bench/replay.py [--bars 1000000] [--strategy ema_cross|idle] [--record-market-data]
                           [--no-uvloop] [--json]

Prints bars/second of the pipeline run (the reports written afterwards are timed on their
own line), orders per bar, and the peak RSS of the process (reports included). The journal
references the synthetic feed, as ``atrium replay`` does; ``--record-market-data`` copies
the bars into it in blocks instead.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from atrium.config import parse_config
from atrium.runtime.eventloop import run as run_loop
from atrium.runtime.replay import ReplayOptions, run_replay

STRATEGIES: dict[str, dict[str, Any]] = {
    # Fast EMAs on a random walk cross about once every ten bars: a strategy that trades often.
    "ema_cross": {
        "class": "atrium.actors.strategy.bundled.ema_cross:EmaCross",
        "symbols": ["SYN"],
        "params": {"fast": 4, "slow": 12, "allow_short": True},
    },
    # The performance issue's figure: EMA 10/20, long and short, reversing on each cross.
    "ema_cross_10_20": {
        "class": "atrium.actors.strategy.bundled.ema_cross:EmaCross",
        "symbols": ["SYN"],
        "params": {"fast": 10, "slow": 20, "allow_short": True},
    },
    # Slow EMAs that never get the chance to cross: the pipeline without order flow.
    "idle": {
        "class": "atrium.actors.strategy.bundled.ema_cross:EmaCross",
        "symbols": ["SYN"],
        "params": {"fast": 1000000, "slow": 2000000},
    },
}


def bench_config(bars: int, strategy: str) -> dict[str, Any]:
    return {
        "market_data": {
            "feeds": [
                {
                    "format": "synthetic",
                    "synthetic": {"seed": 42, "symbols": ["SYN"], "count": bars, "bar_seconds": 60},
                }
            ]
        },
        "strategies": {"bench": STRATEGIES[strategy]},
        "portfolio": {
            "position_sizing_mode": "fixed_risk_atr",
            "max_leverage": 2,
            "commission": {"per_share": "0.0005"},
        },
        "risk": {
            "max_order_notional": 10_000_000,
            "max_order_rate": 1000,
            "price_band_pct": 0.2,
            "max_drawdown_pct": 0.99,
            "max_daily_loss_pct": 0.99,
        },
        # Small costs: on a driftless random walk the account should neither die nor stop
        # trading over a million bars, or the figure would measure a halted pipeline.
        "execution": {"slippage_bps": "0.1", "commission_per_share": "0.0005"},
        "runtime": {"log_level": "WARNING"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--strategy", choices=sorted(STRATEGIES), default="ema_cross")
    parser.add_argument("--record-market-data", action="store_true")
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args()
    config = parse_config(bench_config(args.bars, args.strategy))
    with tempfile.TemporaryDirectory() as out:
        options = ReplayOptions(out_dir=Path(out), record_market_data=args.record_market_data)
        started = time.perf_counter()
        summary = run_loop(lambda: run_replay(config, options), use_uvloop=not args.no_uvloop)
        total = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    loop = "asyncio" if args.no_uvloop else "uvloop"
    if args.json:
        figures = {key: summary[key] for key in ("bars", "orders", "fills", "denials")}
        figures |= {
            "strategy": args.strategy,
            "loop": loop,
            "pipeline_seconds": summary["wall_seconds"],
            "bars_per_second": summary["bars_per_second"],
            "reports_seconds": total - summary["wall_seconds"],
            "peak_rss_mib": peak_mib,
        }
        print(json.dumps(figures))
        return
    market = "blocks" if args.record_market_data else "referenced"
    print(
        f"replay, {args.bars:,} synthetic bars, strategy {args.strategy}, {loop}, "
        f"journal on (market data {market})"
    )
    print(f"  pipeline            {summary['wall_seconds']:10.2f} s")
    print(f"  bars/second         {summary['bars_per_second']:10,.0f}")
    print(
        f"  orders              {summary['orders']:10,}  ({summary['orders'] / args.bars:.3f} per bar)"
    )
    print(f"  fills               {summary['fills']:10,}")
    print(f"  denials             {summary['denials']:10,}  {summary['denials_by_reason']}")
    print(f"  final equity        {float(summary['final_equity']):10,.0f}")
    print(f"  reports             {total - summary['wall_seconds']:10.2f} s")
    print(f"  peak RSS            {peak_mib:10,.0f} MiB")


if __name__ == "__main__":
    main()
