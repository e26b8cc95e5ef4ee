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

from atrium.runtime.cluster.link import INPUT_HEADER, MSG_ID, ROLE_HEADER, Outgoing
from atrium.runtime.cluster.wiring import RoleWiring
from atrium.runtime.codec import decode, encode
from atrium.runtime.messages import Control

__all__ = ("forget_unsent", "load_unsent", "save_unsent", "with_resume")

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


def with_resume(kept: list[Outgoing], wiring: RoleWiring, now_ns: int) -> list[Outgoing]:
    """``kept``, and the resume its run would have sent on reconnecting, when that run
    stopped while NATS was out of reach: its disconnect's control is stored only now,
    and would otherwise hold the next run, connected, in reduce-only for good."""
    cluster = wiring.cluster
    if not cluster.resume_on_reconnect or cluster.on_disconnect == "none":
        return kept
    last: tuple[str, Control] | None = None
    for _, payload, headers in kept:
        run = headers.get(INPUT_HEADER)
        message = decode(payload) if run is not None else None
        if run is not None and isinstance(message, Control) and message.source == "cluster":
            last = run, message
    if last is None or last[1].command == "resume":
        return kept
    run, role = last[0], wiring.role
    resume = Control(
        ts=now_ns,
        command="resume",
        reason="NATS connection restored (after the run that lost it stopped)",
        source="cluster",
    )
    headers = {MSG_ID: f"{role}:control:{run}:resume", ROLE_HEADER: role, INPUT_HEADER: run}
    return [*kept, (wiring.subjects.subject(resume), encode(resume), headers)]
