"""One process per role: a key-value entry with a time-to-live, renewed while it runs.

A consumer's waiting pull requests cannot tell whether another copy of a role runs (under
traffic it may have none waiting), and deleting a consumer in use splits its messages
between two processes. The lock is an entry ``<role>`` of the bucket ``<STREAM>-roles``,
created only where none exists and renewed at a third of its time-to-live; a process that
died leaves it to expire, so a restart waits at most that long, and a second copy is
refused with the holder named.
"""

from __future__ import annotations

import logging
import os
import socket

import anyio
import nats.errors
import nats.js.errors
from nats.js.api import KeyValueConfig, StorageType
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from atrium.runtime.errors import AtriumError

__all__ = ("RoleLock",)

log = logging.getLogger("atrium.cluster")
_RETRY = 0.2


class RoleLock:
    """The single-instance lock of one role."""

    def __init__(self, stream: str, role: str, ttl: float, *, memory: bool) -> None:
        self.bucket = f"{stream}-roles"
        self.role = role
        self.ttl = ttl
        self._memory = memory
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self._kv: KeyValue | None = None
        self._revision = 0

    async def acquire(self, js: JetStreamContext) -> None:
        """Take the lock, waiting up to its time-to-live for a dead holder's to expire."""
        storage = StorageType.MEMORY if self._memory else StorageType.FILE
        config = KeyValueConfig(bucket=self.bucket, ttl=self.ttl, history=1, storage=storage)
        self._kv = kv = await js.create_key_value(config)
        deadline = anyio.current_time() + self.ttl + 2 * _RETRY
        while not await self._create(kv):
            if anyio.current_time() >= deadline:
                raise AtriumError(
                    f"--role {self.role}: another process of this role is running "
                    f"({await self._current()} holds the lock {self.bucket}/{self.role}, "
                    f"renewed every {self.ttl / 3:g}s); a role runs once"
                )
            await anyio.sleep(_RETRY)

    async def _create(self, kv: KeyValue) -> bool:
        """Make the entry; False while another process holds it.

        nats-py's create, refused because an entry exists, reads it to tell a deleted one
        from a live one; when a dead holder's entry expires between the two, that read
        raises "not found". The entry is gone then: create again.
        """
        for _ in range(3):
            try:
                self._revision = await kv.create(self.role, self.holder.encode())
            except nats.js.errors.KeyWrongLastSequenceError:
                return False
            except nats.js.errors.KeyNotFoundError:
                continue
            return True
        return False

    async def _current(self) -> str:
        assert self._kv is not None
        try:
            entry = await self._kv.get(self.role)
        except nats.js.errors.KeyNotFoundError:
            return "a process that just stopped"
        return (entry.value or b"").decode() or "a process"

    async def keep(self) -> None:
        """Renew the lock for as long as the process runs; raise once another holds it."""
        kv = self._kv
        assert kv is not None, "acquire() first"
        while True:
            await anyio.sleep(self.ttl / 3)
            try:
                self._revision = await kv.update(self.role, self.holder.encode(), self._revision)
            except nats.js.errors.KeyWrongLastSequenceError:
                await self._take_back(kv)
            except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
                log.warning("could not renew the lock of role %s (%r)", self.role, exc)

    async def _take_back(self, kv: KeyValue) -> None:
        """The entry expired (the link was down): take it again unless another has."""
        if not await self._create(kv):
            raise AtriumError(
                f"--role {self.role}: lost the lock {self.bucket}/{self.role} to "
                f"{await self._current()}; stopping so one process runs the role"
            )

    async def holds(self, role: str) -> bool:
        """Whether a process holds the lock of ``role`` (a replay's peer is still alive).

        A process that was killed keeps its entry until the time-to-live ends, so this
        says False at most ``ttl`` seconds after a holder died. A lookup that fails says
        True: a slow NATS is no reason to give up on a peer.
        """
        if self._kv is None:
            return True
        try:
            await self._kv.get(role)
        except nats.js.errors.KeyNotFoundError:
            return False
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError):
            return True
        return True

    async def release(self) -> None:
        """Let a successor start at once (a graceful stop)."""
        if self._kv is None or not self._revision:
            return
        try:
            await self._kv.delete(self.role, last=self._revision)
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
            log.debug("lock of role %s left to expire (%r)", self.role, exc)
        self._revision = 0
