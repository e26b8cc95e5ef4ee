"""A deterministic exchange trade stream on loopback, and an ``atrium run`` config that reads it.

Recording tests (and crash tests that restart ``atrium run`` many times against the same
stream) need a venue that sends the same trades every time. :class:`LoopbackTradeServer`
is that venue: a WebSocket server in a background thread that, on every connection,
waits for the subscribe message and sends all its trades from the first, in order --
what an exchange's resend after a reconnect looks like, so the client's deduplicator
decides what is new. :func:`trades_from_minute_bars` makes the trades from the real
one-minute data in ``/work/shared/data`` and :func:`write_service_config` writes a
config for ``atrium run`` that trades them on the paper venue.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

__all__ = (
    "DATA",
    "MINUTE_BARS",
    "ROOT",
    "LoopbackTradeServer",
    "Trade",
    "atrium_run",
    "free_port",
    "trades_from_minute_bars",
    "write_service_config",
)

ROOT: Final = Path(__file__).resolve().parents[2]
DATA: Final = ROOT.parent / "shared" / "data"
#: One-minute bars (``Date,Open,High,Low,Close,Volume,OpenInterest``; the date and time
#: are two columns under the one ``Date`` header).
MINUTE_BARS: Final = DATA / "2006-01-02-volume-min-001.txt"

#: Offsets of the open, high, low and close trades into their minute, in ms.
_OFFSETS_MS: Final = (0, 15_000, 30_000, 45_000)
#: Longest wait for the server thread to start or stop; a hang fails the test.
_THREAD_SECONDS: Final = 10.0
#: Longest wait for a client's closing handshake when the server stops.
_CLOSE_TIMEOUT_SECONDS: Final = 1.0


@dataclass(frozen=True, slots=True)
class Trade:
    """One trade of the stream; ``price`` and ``quantity`` are the exact decimal text sent."""

    symbol: str
    ts_ms: int
    price: str
    quantity: str
    trade_id: int

    def message(self) -> str:
        """The trade as the exchange sends it: ``{"e":"trade","s":...,"t":...}``."""
        return json.dumps(
            {
                "e": "trade",
                "s": self.symbol,
                "p": self.price,
                "q": self.quantity,
                "T": self.ts_ms,
                "t": self.trade_id,
            },
            separators=(",", ":"),
        )


def trades_from_minute_bars(path: Path, symbol: str, limit: int) -> list[Trade]:
    """Four trades per bar of the first ``limit`` bars of ``path``: open, high, low, close.

    They are at +0, +15, +30 and +45 s into the bar's minute (its ``Date`` and time
    columns read as UTC), each of ``max(1, volume // 4)``, with the prices exactly as the
    file writes them and trade ids 1, 2, 3, ... So ``limit`` bars give ``4 * limit``
    trades whose 60-second bars have the file's open, high, low and close.

    Raises
    ------
    ValueError
        When a row is malformed or its minute is not later than the previous row's (the
        trade times must increase strictly), naming the line.
    """
    if limit <= 0:
        raise ValueError(f"limit={limit!r} must be > 0")
    trades: list[Trade] = []
    previous_ms: int | None = None
    with path.open(encoding="utf-8") as lines:
        header = next(lines, "")
        if not header.startswith("Date,"):
            raise ValueError(f"{path}: expected a 'Date,...' header, got {header.strip()!r}")
        for number, line in enumerate(lines, start=2):
            if len(trades) == 4 * limit:
                break
            fields = line.strip().split(",")
            if len(fields) != 8:
                raise ValueError(f"{path}:{number}: expected 8 fields, got {len(fields)}")
            day, clock, open_, high, low, close, volume, _ = fields
            stamp = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=UTC)
            minute_ms = int(stamp.timestamp()) * 1000
            if previous_ms is not None and minute_ms <= previous_ms:
                raise ValueError(f"{path}:{number}: {day} {clock} is not after the previous row")
            previous_ms = minute_ms
            quantity = str(max(1, int(volume) // 4))
            for offset, price in zip(_OFFSETS_MS, (open_, high, low, close), strict=True):
                trades.append(
                    Trade(symbol, minute_ms + offset, price, quantity, trade_id=len(trades) + 1)
                )
    if len(trades) < 4 * limit:
        raise ValueError(f"{path}: has {len(trades) // 4} bars, fewer than limit={limit}")
    return trades


class LoopbackTradeServer:
    """An exchange trade stream on ``127.0.0.1``, served from a thread with its own loop.

    Every connection gets the same thing: after the client's first message (the
    subscribe request) all ``trades`` from the first, in order, then silence on an open
    connection until the client or the server closes it. Use it as a context manager;
    leaving it closes every connection and stops the thread.

    Parameters
    ----------
    trades : sequence of Trade
        What every connection receives.
    rate_per_second : float or None, default None
        Pace of the trades on each connection; ``None``: as fast as the socket takes them.
    live : bool, default False
        Send each trade no earlier than its own time (``ts_ms``, wall clock): a connection
        gets at once every trade already due (the resend) and the rest as they fall due,
        as a live exchange does. Excludes ``rate_per_second``.

    Attributes
    ----------
    url : str
        ``ws://127.0.0.1:<port>``, set on entering.
    connections : int
        Connections accepted so far.
    subscriptions : list of str
        The first message of every connection, in order of arrival.
    """

    def __init__(
        self, trades: Sequence[Trade], *, rate_per_second: float | None = None, live: bool = False
    ) -> None:
        if rate_per_second is not None and not rate_per_second > 0:
            raise ValueError(f"rate_per_second={rate_per_second!r} must be > 0 (or None)")
        if live and rate_per_second is not None:
            raise ValueError("live=True paces by the trades' times: leave rate_per_second None")
        self._messages = [trade.message() for trade in trades]
        self._due = [trade.ts_ms / 1000 for trade in trades] if live else None
        self._interval = None if rate_per_second is None else 1.0 / rate_per_second
        self.url = ""
        # Written by the server thread only; the test's thread reads them.
        self.connections = 0
        self.subscriptions: list[str] = []
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._serve_forever, name="loopback-trades")
        self._thread.start()
        if not self._started.wait(_THREAD_SECONDS):
            raise RuntimeError(f"loopback trade server did not start within {_THREAD_SECONDS} s")
        if self._failure is not None:
            self._thread.join()
            raise RuntimeError("loopback trade server failed to start") from self._failure
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(_THREAD_SECONDS)
            if thread.is_alive():
                raise RuntimeError(f"loopback trade server did not stop within {_THREAD_SECONDS} s")
        if self._failure is not None and exc is None:
            raise RuntimeError("loopback trade server failed") from self._failure

    def _serve_forever(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as failure:  # handed to the test's thread by __enter__/__exit__
            self._failure = failure
        finally:
            self._started.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        # A short closing handshake: a client that stopped reading must not hold up the exit.
        server: Server = await serve(
            self._handle, "127.0.0.1", 0, close_timeout=_CLOSE_TIMEOUT_SECONDS
        )
        try:
            port = server.sockets[0].getsockname()[1]
            self.url = f"ws://127.0.0.1:{port}"
            self._started.set()
            await self._stop.wait()
        finally:
            server.close()
            await server.wait_closed()

    async def _handle(self, connection: ServerConnection) -> None:
        self.connections += 1
        try:
            subscribe = await connection.recv()
            self.subscriptions.append(
                subscribe if isinstance(subscribe, str) else subscribe.decode()
            )
            await self._send_all(connection)
            await connection.wait_closed()
        except ConnectionClosed:
            return  # the client left (a restart, a kill): the next connection starts over

    async def _send_all(self, connection: ServerConnection) -> None:
        if self._due is not None:
            for due, message in zip(self._due, self._messages, strict=True):
                delay = due - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                await connection.send(message)
            return
        interval = self._interval
        loop = asyncio.get_running_loop()
        start = loop.time()
        for index, message in enumerate(self._messages):
            if interval is not None:
                delay = start + index * interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            await connection.send(message)


def free_port() -> int:
    """A TCP port on ``127.0.0.1`` that nothing listens on right now (for ``[service].port``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def atrium_run(
    config: Path, log: Path, *, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``atrium run --config config`` as a process, its stderr appended to ``log``; killed
    on leaving if still running. ``tests/recovery`` is on its ``PYTHONPATH`` (for test
    strategies); ``env`` adds variables (an API token)."""
    path = os.pathsep.join((str(ROOT), str(Path(__file__).parent)))
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "atrium.runtime.cli", "run", "--config", str(config)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": path, **(env or {})},
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def write_service_config(
    path: Path,
    *,
    url: str,
    symbol: str,
    journal: Path,
    port: int,
    strategy: str = "cross",
    fast: int = 3,
    slow: int = 8,
    allow_short: bool = True,
    fixed_qty: int = 10,
    sizing: Mapping[str, Any] | None = None,
    snapshot_every: int = 0,
    log_level: str = "INFO",
    bar_seconds: int = 60,
) -> Path:
    """Write an ``atrium run`` config trading ``symbol`` from the stream at ``url``; return ``path``.

    The feed is ``websocket`` with ``bar_seconds`` bars (60) from the ticks; the strategy an
    ``ema_cross`` (``fast``/``slow``, short too by default) sized ``fixed_qty`` per entry;
    the paper venue fills the next print with 1 bp slippage and 0.005 per share
    commission (1.0 minimum); risk checks stay on with limits this data never reaches
    (the order-rate throttle too: in a live run it reads the wall clock, so whether it
    denies would depend on how fast the feed is sent).

    Parameters
    ----------
    sizing : mapping or None
        Replaces the strategy's budget table ``[portfolio.strategy_budgets.<strategy>]``
        (``capital_pct`` is 0.9 unless given), e.g. ``{"sizing_mode": "fixed_risk_atr",
        "risk_per_trade_pct": 0.001}``. ``None``: ``fixed_qty``.
    snapshot_every : int
        ``[journal].snapshot_every`` (0: no snapshots).
    """
    budget: dict[str, Any] = {"capital_pct": 0.9}
    budget.update(sizing if sizing is not None else {"fixed_qty": fixed_qty})
    sections: dict[str, dict[str, Any]] = {
        "runtime": {"log_level": log_level, "shutdown_grace_seconds": 5.0},
        "service": {"host": "127.0.0.1", "port": port},
        "journal": {"path": str(journal), "snapshot_every": snapshot_every},
        f"strategies.{strategy}": {
            "class": "atrium.actors.strategy.bundled.ema_cross:EmaCross",
            "symbols": [symbol],
            "params": {"fast": fast, "slow": slow, "allow_short": allow_short},
        },
        "portfolio": {"initial_capital": 1_000_000},
        f"portfolio.strategy_budgets.{strategy}": budget,
        "risk": {
            "max_order_notional": 100_000_000,
            "max_order_rate": 1_000_000,
            "price_band_pct": 0.5,
        },
        "execution": {
            "slippage_bps": 1,
            "commission_per_share": Decimal("0.005"),
            "commission_min": Decimal("1.0"),
        },
    }
    feed = {
        "format": "websocket",
        "name": "loopback",
        "bar_seconds": bar_seconds,
        "websocket": {"url": url, "symbols": [symbol], "reconnect_initial_seconds": 0.05},
    }
    parts = [_table(f"[{name}]", values) for name, values in sections.items()]
    parts.append(_table("[[market_data.feeds]]", feed))
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _table(header: str, values: Mapping[str, Any]) -> str:
    """One TOML table of ``values`` (str, int, float, Decimal, bool, list, inline table)."""
    lines = [header]
    lines += [f"{key} = {_toml(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)  # the loader reads TOML floats as Decimal: exact
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, Mapping):
        items = ", ".join(f"{key} = {_toml(item)}" for key, item in value.items())
        return f"{{ {items} }}"
    if isinstance(value, list | tuple):
        return f"[{', '.join(_toml(item) for item in value)}]"
    raise TypeError(f"no TOML form for {value!r}")
