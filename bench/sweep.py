"""Sweep throughput: points per minute of a 3x3x3 ema_cross grid on NVDA daily (1999-2014).

    python bench/sweep.py [--workers 1 2] [--data PATH] [--json]

Runs the 27-point grid once per worker count, each into a fresh directory (no resume),
and the same config replayed bare: in this process (run_replay, warm, as ``atrium replay``
does after its imports) and as an ``atrium replay`` command (interpreter and imports
included). The overhead per point is what a point costs a worker beyond the warm replay:
``workers * wall / points - bare``. It covers starting the point's process, the replay's
first-run costs in that process, checking its config and reading its summary back.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from atrium.config.loader import load_config
from atrium.runtime.eventloop import run as run_loop
from atrium.runtime.replay import ReplayOptions, run_replay
from atrium.runtime.sweep.run import SweepOptions, run_sweep

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nvda-1999-2014.txt"

CONFIG = """\
[[market_data.feeds]]
path = "{data}"
symbol = "NVDA"

[strategies.ema]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["NVDA"]
params = {{ fast = 10, slow = 30, quantity = 100 }}
"""

GRID = """\
[params]
"strategies.ema.params.fast" = [5, 10, 15]
"strategies.ema.params.slow" = [30, 40, 50]
"strategies.ema.params.quantity" = [50, 100, 200]
"""


def bare_replay(config_path: Path, out: Path) -> float:
    """Seconds of one replay of the base config in this process."""
    config = load_config(config_path)
    started = time.perf_counter()
    run_loop(lambda: run_replay(config, ReplayOptions(out_dir=out)), use_uvloop=True)
    return time.perf_counter() - started


def command_replay(config_path: Path, out: Path) -> float:
    """Seconds of ``atrium replay`` as a command, from exec to exit."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "atrium", "replay", "--config", str(config_path)]
    subprocess.run([*command, "--out", str(out), "--no-progress"], check=True, capture_output=True)
    return time.perf_counter() - started


def bench(workers: list[int], data: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="atrium-bench-sweep-") as scratch:
        root = Path(scratch)
        config, grid = root / "base.toml", root / "grid.toml"
        config.write_text(CONFIG.format(data=data))
        grid.write_text(GRID)
        bare_replay(config, root / "warm")  # imports and file cache, not timed
        bare = min(bare_replay(config, root / f"bare{i}") for i in range(3))
        command = min(command_replay(config, root / f"cmd{i}") for i in range(3))
        rows = []
        for count in workers:
            started = time.perf_counter()
            report = run_sweep(SweepOptions(config, grid, root / f"w{count}", workers=count))
            wall = time.perf_counter() - started
            points = report["points"]
            rows.append(
                {
                    "workers": count,
                    "points": points,
                    "failed": report["failed"],
                    "wall_seconds": round(wall, 3),
                    "points_per_minute": round(points / wall * 60, 1),
                    "overhead_per_point_seconds": round(count * wall / points - bare, 3),
                }
            )
    return {
        "cores": os.cpu_count(),
        "bare_replay_seconds": round(bare, 3),
        "atrium_replay_command_seconds": round(command, 3),
        "runs": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = bench(args.workers, args.data)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"bare replay of NVDA daily (4012 bars): {figures['bare_replay_seconds']:.3f} s in "
        f"process, {figures['atrium_replay_command_seconds']:.3f} s as `atrium replay`"
    )
    for row in figures["runs"]:
        print(
            f"workers {row['workers']}: {row['points']} points in {row['wall_seconds']:.2f} s, "
            f"{row['points_per_minute']:.1f} points/min, "
            f"overhead {row['overhead_per_point_seconds']:.3f} s/point"
        )


if __name__ == "__main__":
    main()
