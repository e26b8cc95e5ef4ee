"""``atrium run`` on a port another program holds: one clear line, exit status 1."""

from __future__ import annotations

import socket
import subprocess
import sys
from contextlib import closing
from pathlib import Path


def test_port_in_use_is_named_and_exits_1(tmp_path: Path) -> None:
    with closing(socket.socket()) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = tmp_path / "busy.toml"
        config.write_text(
            '[[market_data.feeds]]\nformat = "synthetic_live"\n'
            f'[journal]\npath = "{tmp_path / "journal.sqlite"}"\n[service]\nport = {port}\n'
        )
        done = subprocess.run(
            [sys.executable, "-m", "atrium.runtime.cli", "run", "--config", str(config)],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        f"atrium: error: service.port: cannot serve HTTP on 127.0.0.1:{port}: "
        "Address already in use"
    )
    assert "Traceback" not in done.stderr
