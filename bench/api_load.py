"""Tick-to-order latency of ``atrium run`` with and without 64 HTTP clients hammering it.

    python bench/api_load.py [--rate 5000] [--seconds 3] [--rounds 4] [--clients 64]
                             [--max-requests-per-second N] [--json]

Starts ``atrium run`` (the real service, journal on, uvloop) on a ``synthetic_live`` feed
of two symbols at ``--rate`` ticks/s, trading the EMA cross of ``bench/latency.py`` on
its ticks through the venue that times each order from its tick. Each of ``--rounds``
runs ``--seconds`` quiet, then ``--seconds`` while ``--clients`` loopback clients request
``/metrics``, ``/api/portfolio/limits``, ``/api/portfolio/positions``, ``/api/orders`` and
``/api/risk`` back to back (each on a new connection, as the server closes every one). Printed per
phase: ticks/s, orders, tick-to-order percentiles; for the loaded phase the requests
answered, by status. Target: the loaded p50 at most 20 % above the quiet one, and the
tick rate held.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import aiohttp
from latency import TimedVenue, percentiles_us

from atrium.actors.execution.adapter import EventSink
from atrium.config.execution import ExecutionConfig
from atrium.config.service import ServiceConfig
from atrium.runtime.messages import Order

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PATHS = (
    "/metrics",
    "/api/portfolio/limits",
    "/api/portfolio/positions",
    "/api/orders",
    "/api/risk",
)
#: Where the service process writes its ``(wall ns, latency ns)`` samples at exit.
_SAMPLES_ENV = "ATRIUM_BENCH_SAMPLES"


class RecordingVenue(TimedVenue):
    """:class:`latency.TimedVenue` that also notes when each order was handed over and
    writes ``[[wall_ns, latency_ns], ...]`` to ``$ATRIUM_BENCH_SAMPLES`` at exit."""

    def __init__(self, config: ExecutionConfig, sink: EventSink) -> None:
        super().__init__(config, sink)
        self._samples: list[tuple[int, int]] = []
        atexit.register(self._dump, os.environ[_SAMPLES_ENV])

    def submit(self, order: Order) -> None:
        now = time.time_ns()
        self._samples.append((now, now - self._tick_ts))
        super().submit(order)

    def _dump(self, path: str) -> None:
        Path(path).write_text(json.dumps(self._samples), encoding="utf-8")


def _config(tmp: Path, rate: float, port: int, max_requests: float | None) -> Path:
    path = tmp / "atrium.toml"
    pace = "" if max_requests is None else f"max_requests_per_second = {max_requests}\n"
    path.write_text(
        f"[service]\nport = {port}\n{pace}\n"
        f"[journal]\npath = {json.dumps(str(tmp / 'journal.sqlite'))}\n\n"
        '[runtime]\nlog_level = "WARNING"\n\n'
        '[strategies.cross]\nclass = "latency:TickCross"\nsymbols = ["AAA", "BBB"]\n\n'
        '[portfolio]\nposition_sizing_mode = "fixed_qty"\nmax_leverage = 2\n\n'
        "[risk]\nmax_order_notional = 10000000\nmax_order_rate = 10000000\n"
        "price_band_pct = 0.5\nmax_drawdown_pct = 0.99\nmax_daily_loss_pct = 0.99\n\n"
        '[execution]\nvenue = "api_load:RecordingVenue"\ncommission_per_share = 0.0005\n\n'
        '[[market_data.feeds]]\nformat = "synthetic_live"\n'
        f'synthetic_live = {{ seed = 7, symbols = ["AAA", "BBB"], rate_per_second = {rate}, '
        "volatility = 0.5 }\n",
        encoding="utf-8",
    )
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(port: int, process: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"atrium run exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"atrium run not ready within {seconds} s")


async def _hammer(port: int, clients: int, seconds: float) -> Counter[str]:
    """``clients`` tasks requesting PATHS in turn for ``seconds``; statuses counted."""
    statuses: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=clients, force_close=True)

    async def client(index: int, http: aiohttp.ClientSession) -> None:
        turn = index
        while time.monotonic() < deadline:
            path = PATHS[turn % len(PATHS)]
            turn += 1
            try:
                async with http.get(f"http://127.0.0.1:{port}{path}") as response:
                    await response.read()
                    statuses[str(response.status)] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                statuses[type(exc).__name__] += 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        await asyncio.gather(*(client(index, http) for index in range(clients)))
    return statuses


def _ticks_between(journal: Path, start_ns: int, end_ns: int) -> int:
    with closing(sqlite3.connect(journal)) as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM events WHERE kind = 'Tick' AND ts >= ? AND ts < ?",
            (start_ns, end_ns),
        ).fetchone()
    return int(count)


def _phase(
    name: str, samples: list[tuple[int, int]], journal: Path, windows: list[tuple[int, int]]
) -> dict[str, Any]:
    inside = sorted(latency for wall, latency in samples if any(a <= wall < b for a, b in windows))
    seconds = sum(b - a for a, b in windows) / 1e9
    ticks = sum(_ticks_between(journal, a, b) for a, b in windows)
    return {
        "phase": name,
        "ticks_per_second": ticks / seconds,
        "orders": len(inside),
        **percentiles_us(inside),
    }


def measure(
    rate: float, seconds: float, clients: int, rounds: int, max_requests: float | None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        port = _free_port()
        samples_path = tmp / "samples.json"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join((str(ROOT), str(BENCH))),
            _SAMPLES_ENV: str(samples_path),
        }
        command = [sys.executable, "-m", "atrium.runtime.cli", "run", "--config"]
        process = subprocess.Popen(
            [*command, str(_config(tmp, rate, port, max_requests))],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        quiet: list[tuple[int, int]] = []
        loaded: list[tuple[int, int]] = []
        statuses: Counter[str] = Counter()
        try:
            _wait_ready(port, process)
            time.sleep(1.0)  # warm up
            for _ in range(rounds):  # alternated, so drift in the machine's load hits both
                start = time.time_ns()
                time.sleep(seconds)
                quiet.append((start, time.time_ns()))
                start = time.time_ns()
                statuses += asyncio.run(_hammer(port, clients, seconds))
                loaded.append((start, time.time_ns()))
            process.send_signal(signal.SIGTERM)
            if process.wait(timeout=30) != 0:
                raise SystemExit(f"atrium run exited with {process.returncode}")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        samples = [(int(w), int(lat)) for w, lat in json.loads(samples_path.read_text())]
        journal = tmp / "journal.sqlite"
        phases = [
            _phase("quiet", samples, journal, quiet),
            _phase(f"{clients} clients", samples, journal, loaded),
        ]
    requests = sum(count for status, count in statuses.items())
    phases[1]["requests_per_second"] = requests / (seconds * rounds)
    phases[1]["statuses"] = dict(statuses)
    return {
        "rate": rate,
        "seconds": seconds,
        "rounds": rounds,
        "clients": clients,
        "phases": phases,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument(
        "--max-requests-per-second",
        type=float,
        default=None,
        help="[service].max_requests_per_second (default: the service's own)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args()
    result = measure(
        args.rate, args.seconds, args.clients, args.rounds, args.max_requests_per_second
    )
    if args.json:
        print(json.dumps(result))
        return
    pace = args.max_requests_per_second or ServiceConfig().max_requests_per_second
    print(
        f"atrium run, synthetic_live at {args.rate:,.0f} ticks/s, journal on; "
        f"{args.rounds} rounds of {args.seconds:g} s quiet then {args.seconds:g} s loaded; "
        f"max_requests_per_second = {pace:g}"
    )
    print(f"{'phase':12} {'ticks/s':>9} {'orders':>7} {'p50 µs':>8} {'p90 µs':>8} {'p99 µs':>9}")
    for row in result["phases"]:
        cells = " ".join(
            f"{row[key]:>8,.1f}" if row[key] is not None else f"{'-':>8}"
            for key in ("p50_us", "p90_us")
        )
        p99 = f"{row['p99_us']:>9,.0f}" if row["p99_us"] is not None else f"{'-':>9}"
        print(
            f"{row['phase']:12} {row['ticks_per_second']:>9,.0f} {row['orders']:>7,} {cells} {p99}"
        )
    quiet, loaded = result["phases"]
    print(
        f"requests: {loaded['requests_per_second']:,.0f}/s, by status {loaded['statuses']}; "
        f"p50 {loaded['p50_us'] / quiet['p50_us'] - 1:+.0%} (target at most +20 %), "
        f"tick rate {loaded['ticks_per_second'] / quiet['ticks_per_second'] - 1:+.1%}"
    )


if __name__ == "__main__":
    main()
