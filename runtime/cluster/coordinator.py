"""The market data role of a replay whose roles read the feeds themselves: it reads
nothing; it gives the start once every role is up, and waits for the core's end.

It starts the replay so that the namespace's stream is checked empty before anyone
publishes (see the bridge's start-up), and so that an operator starts the replay as before:
the other roles first, then this one. Its exit tells the replay's outcome: the core's end
marker carries the reason of a failure, and a core that is gone (its lock expired) is
named rather than waited for.
"""

from __future__ import annotations

import anyio

from atrium.runtime.cluster.link import MSG_ID, ROLE_HEADER, Link
from atrium.runtime.cluster.lock import RoleLock
from atrium.runtime.cluster.wiring import RoleWiring
from atrium.runtime.errors import AtriumError

__all__ = ("give_start", "wait_for_end")


async def give_start(link: Link, wiring: RoleWiring) -> None:
    """Once every role's consumer exists, store the start marker they wait for."""
    await link.wait_consumers(wiring.consumers)
    role = wiring.role
    start = (wiring.subjects.start, b"", {MSG_ID: f"{role}:start", ROLE_HEADER: role})
    await link.publish([start])


async def wait_for_end(link: Link, wiring: RoleWiring, lock: RoleLock) -> None:
    """Wait for the core's end marker; raise its reason, if it has one, or when the core
    is gone (no process holds its lock after ``lock_ttl_seconds`` without news)."""
    end = wiring.subjects.end
    core = wiring.local.core if wiring.local is not None else ""
    await link.follow()
    watch = link.watch
    assert watch is not None
    while not watch.last_of(end):
        seen = anyio.Event()
        watch.on_seen = seen.set
        if watch.last_of(end):
            break
        with anyio.move_on_after(wiring.cluster.lock_ttl_seconds) as waited:
            await seen.wait()
        if waited.cancelled_caught and not await lock.holds(core):
            raise AtriumError(
                f"cluster replay: role {core} is gone (no process holds its lock) before "
                "the replay's end; run the replay again in a new namespace"
            )
    reason = (await link.last_message(end)) or b""
    if reason:
        raise AtriumError(f"the replay stopped: {reason.decode(errors='replace')}")
