"""``atrium run`` as a real process: serve, take a control, stop on SIGTERM with the journal intact.

Each test starts ``python -m runtime.cli run`` on a free loopback port with a journal in
``tmp_path``, waits for ``/healthz`` to answer, and always kills the process in the end.
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.codec import decode
from runtime.messages import MESSAGE_SCHEMA_VERSION, Control, TradingStateChanged

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "service-test-token"
GRACE_SECONDS = 5.0
STARTUP_SECONDS = 15.0


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


def _wait_until_up(running: Running) -> None:
    """Poll ``/healthz`` until it answers; fail with the service's log if it never does."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise AssertionError(f"atrium run exited early:\n{running.log()}")
        try:
            status, _ = _request(running.url("/healthz"))
        except (ConnectionError, urllib.error.URLError):
            time.sleep(0.05)
            continue
        if status == 200:
            return
    raise AssertionError(f"/healthz did not answer within {STARTUP_SECONDS} s:\n{running.log()}")


@contextmanager
def atrium_run(tmp_path: Path) -> Iterator[Running]:
    port = _free_port()
    journal = tmp_path / "journal.sqlite"
    config = tmp_path / "atrium.toml"
    config.write_text(
        f"[service]\nport = {port}\n\n"
        f"[journal]\npath = {json.dumps(str(journal))}\n\n"
        f'[runtime]\nshutdown_grace_seconds = {GRACE_SECONDS}\nlog_level = "INFO"\n',
        encoding="utf-8",
    )
    stderr = tmp_path / "stderr.log"
    env = {**os.environ, "ATRIUM_API_TOKEN": TOKEN}
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "run", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    running = Running(process, port, journal, stderr)
    try:
        _wait_until_up(running)
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_run_when_sigterm_then_exits_0_within_grace_and_journal_holds_the_control(
    tmp_path: Path,
) -> None:
    with atrium_run(tmp_path) as running:
        ready = _request(running.url("/readyz"))
        halt = _request(running.url("/api/control/halt"), method="POST", token=TOKEN)

        running.process.send_signal(signal.SIGTERM)
        code = running.process.wait(timeout=GRACE_SECONDS + 5)

    assert ready[0] == 200
    assert ready[1]["ready"] is True
    assert halt == (200, {"command": "halt", "trading_state": "HALTED"})
    assert code == 0, running.log()
    assert "stopped: SIGTERM received" in running.log()
    with sqlite3.connect(running.journal) as db:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        rows = db.execute("SELECT seq, kind, payload FROM events ORDER BY seq").fetchall()
    assert meta == {
        "journal_schema_version": "1",
        "message_schema_version": str(MESSAGE_SCHEMA_VERSION),
    }
    assert [(seq, kind) for seq, kind, _ in rows] == [(1, "Control"), (2, "TradingStateChanged")]
    control, changed = (decode(payload) for _, _, payload in rows)
    assert isinstance(control, Control)
    assert (control.command, control.source) == ("halt", "operator")
    assert isinstance(changed, TradingStateChanged)
    assert (changed.previous, changed.state) == ("ACTIVE", "HALTED")


def _wait_for_log(running: Running, text: str) -> None:
    deadline = time.monotonic() + GRACE_SECONDS
    while text not in running.log():
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not logged within {GRACE_SECONDS} s:\n{running.log()}")
        time.sleep(0.001)


def test_run_when_sigterm_again_during_shutdown_then_exits_0_with_journal_intact(
    tmp_path: Path,
) -> None:
    with atrium_run(tmp_path) as running:
        halt = _request(running.url("/api/control/halt"), method="POST", token=TOKEN)

        running.process.send_signal(signal.SIGTERM)
        # The second signal lands while the first is being handled (not merged with it
        # by the kernel): during the drain, the journal flush or the interpreter's exit.
        _wait_for_log(running, "stopping: SIGTERM received")
        running.process.send_signal(signal.SIGTERM)
        code = running.process.wait(timeout=GRACE_SECONDS)

    assert halt[0] == 200
    assert code == 0, running.log()
    with sqlite3.connect(running.journal) as db:
        kinds = [kind for (kind,) in db.execute("SELECT kind FROM events ORDER BY seq")]
    assert kinds == ["Control", "TradingStateChanged"]
