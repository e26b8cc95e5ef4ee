"""What a role could not store in JetStream before it stopped, kept for its next start.

A graceful stop waits for JetStream only until ``stop_timeout_seconds``: with NATS out
of reach it would never finish, and systemd's kill would lose the messages held. They
are written beside the role's journal (``<journal>.unsent``) and published first, under
their own ids, when the role starts again (JetStream drops any it did store).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import msgspec

from atrium.runtime.cluster.link import Outgoing

__all__ = ("forget_unsent", "load_unsent", "save_unsent")

log = logging.getLogger("atrium.cluster")


def save_unsent(path: Path, messages: list[Outgoing]) -> None:
    """Write ``messages`` to ``path`` at once (a temporary file renamed over it)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(msgspec.msgpack.encode(messages))
    os.replace(temporary, path)
    log.warning(
        "stopped with %d messages not stored by JetStream; kept in %s for the next start",
        len(messages),
        path,
    )


def load_unsent(path: Path) -> list[Outgoing]:
    """The messages a previous run kept in ``path`` (empty: none)."""
    if not path.exists():
        return []
    try:
        return msgspec.msgpack.decode(path.read_bytes(), type=list[Outgoing])
    except msgspec.DecodeError as exc:
        raise OSError(
            f"{path}: the unsent messages of the previous run do not decode ({exc})"
        ) from None


def forget_unsent(path: Path) -> None:
    """Remove ``path`` once what it held is stored."""
    path.unlink(missing_ok=True)
