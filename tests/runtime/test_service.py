"""``atrium run`` as a real process: serve, take a control, stop on SIGTERM with the journal intact.

Each test starts ``python -m runtime.cli run`` with a synthetic live feed (seeded ticks in
wall time, no network) on a free loopback port and a journal in ``tmp_path``, waits for
``/healthz`` and ``/readyz``, and always kills the process in the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atrium.runtime.codec import decode
from atrium.runtime.journal_market import iter_records
from atrium.runtime.messages import MESSAGE_SCHEMA_VERSION, Control, Tick, TradingStateChanged

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "service-test-token"
GRACE_SECONDS = 5.0
STARTUP_SECONDS = 15.0
FEED = "synthetic_live"


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    port: int
    journal: Path
    stderr: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _request(url: str, *, method: str = "GET", token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _poll(running: Running, done: Callable[[], bool], what: str, seconds: float) -> None:
    """Call ``done`` until it is true; fail with the service's log when time runs out."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {seconds} s:\n{running.log()}")
        time.sleep(0.005)


def _answers(running: Running, path: str) -> bool:
    if running.process.poll() is not None:
        raise AssertionError(f"atrium run exited early:\n{running.log()}")
    try:
        status, _ = _request(running.url(path))
    except (ConnectionError, urllib.error.URLError):
        return False
    return status == 200


@contextmanager
def atrium_run(tmp_path: Path) -> Iterator[Running]:
    port = _free_port()
    journal = tmp_path / "journal.sqlite"
    config = tmp_path / "atrium.toml"
    config.write_text(
        f"[service]\nport = {port}\n\n"
        f"[journal]\npath = {json.dumps(str(journal))}\n\n"
        f'[runtime]\nshutdown_grace_seconds = {GRACE_SECONDS}\nlog_level = "INFO"\n\n'
        "[[market_data.feeds]]\n"
        f'format = "{FEED}"\n'
        'synthetic_live = { seed = 1, symbols = ["SYN"], rate_per_second = 200.0 }\n',
        encoding="utf-8",
    )
    stderr = tmp_path / "stderr.log"
    env = {**os.environ, "ATRIUM_API_TOKEN": TOKEN}
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "atrium.runtime.cli", "run", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    running = Running(process, port, journal, stderr)
    try:
        _poll(running, lambda: _answers(running, "/healthz"), "/healthz did not answer", 15.0)
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _journal(path: Path) -> tuple[dict[str, str], list[tuple[int, str, bytes]]]:
    """``meta`` and every record (``events`` rows and market data blocks, by ``seq``)."""
    with closing(sqlite3.connect(path)) as db:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        rows = [(seq, kind, payload) for seq, _, kind, payload in iter_records(db, str(path))]
    return meta, rows


def test_run_when_sigterm_then_exits_0_within_grace_and_journal_holds_feed_and_control(
    tmp_path: Path,
) -> None:
    with atrium_run(tmp_path) as running:
        # Ready once the feed has delivered its first tick.
        _poll(running, lambda: _answers(running, "/readyz"), "/readyz not 200", STARTUP_SECONDS)
        status, ready = _request(running.url("/readyz"))
        halt = _request(running.url("/api/control/halt"), method="POST", token=TOKEN)

        running.process.send_signal(signal.SIGTERM)
        code = running.process.wait(timeout=GRACE_SECONDS + 5)

    assert status == 200
    feed = ready["checks"]["feeds"][FEED]
    assert (ready["ready"], feed["connected"], feed["ready"]) == (True, True, True)
    assert feed["messages"] >= 1
    assert halt == (200, {"command": "halt", "trading_state": "HALTED"})
    assert code == 0, running.log()
    assert "stopped: SIGTERM received" in running.log()
    assert "Traceback" not in running.log()

    meta, rows = _journal(running.journal)
    assert meta == {
        "journal_schema_version": "3",
        "message_schema_version": str(MESSAGE_SCHEMA_VERSION),
        "market_data": "blocks",
    }
    # Intact: every sequence number once, every payload decodes to the kind it is filed under.
    assert [seq for seq, _, _ in rows] == list(range(1, len(rows) + 1))
    messages = [decode(payload) for _, _, payload in rows]
    assert [type(m).__name__ for m in messages] == [kind for _, kind, _ in rows]
    # No strategy and no position: ticks move no equity, so no snapshots either.
    assert {kind for _, kind, _ in rows} == {"Tick", "Control", "TradingStateChanged"}
    ticks = [m for m in messages if isinstance(m, Tick)]
    assert {t.symbol for t in ticks} == {"SYN"}
    assert [t.ts for t in ticks] == sorted(t.ts for t in ticks)
    (control,) = [m for m in messages if isinstance(m, Control)]
    assert (control.command, control.source) == ("halt", "operator")
    (changed,) = [m for m in messages if isinstance(m, TradingStateChanged)]
    assert (changed.previous, changed.state) == ("ACTIVE", "HALTED")
    assert messages.index(control) < messages.index(changed)


def test_run_when_sigterm_again_during_shutdown_then_exits_0_with_journal_intact(
    tmp_path: Path,
) -> None:
    with atrium_run(tmp_path) as running:
        halt = _request(running.url("/api/control/halt"), method="POST", token=TOKEN)

        running.process.send_signal(signal.SIGTERM)
        # The second signal lands while the first is being handled (not merged with it
        # by the kernel): during the drain, the journal flush or the interpreter's exit.
        _poll(
            running,
            lambda: "stopping: SIGTERM received" in running.log(),
            "the first SIGTERM was not logged",
            GRACE_SECONDS,
        )
        running.process.send_signal(signal.SIGTERM)
        code = running.process.wait(timeout=GRACE_SECONDS)

    assert halt[0] == 200
    assert code == 0, running.log()
    meta, rows = _journal(running.journal)
    assert meta["journal_schema_version"] == "3"
    assert [seq for seq, _, _ in rows] == list(range(1, len(rows) + 1))
    kinds = [kind for _, kind, _ in rows]
    assert (kinds.count("Control"), kinds.count("TradingStateChanged")) == (1, 1)
