"""Connection limits in front of aiohttp: a cap on open connections, a head timeout, and
a pace at which requests are read.

Slow clients (a request head sent a byte at a time, or never finished) would otherwise
hold sockets for as long as they like, until ``/healthz`` and the controls can no longer
be reached. Each connection's protocol is wrapped: its request head must arrive within
``header_timeout`` seconds, and at ``limit`` open connections a new one closes the oldest
connection whose head is not read yet; when every open connection is busy with a
request, the new one is answered 503. The service answers with ``Connection: close``, so
every connection carries one request and its head is timed.

Requests share the event loop with the order path, and each costs it several hundred
microseconds: clients requesting back to back would take the loop from trading. So a
connection is read only when its turn comes, at most ``rate`` a second in order of
arrival; until then what it sent is held and reading paused (the head timer starts with
its turn).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import Final, cast

from aiohttp import web

__all__ = ("GuardedSite",)

log = logging.getLogger("atrium.http")

_HEAD_END: Final = b"\r\n\r\n"


def _busy_response() -> bytes:
    body = json.dumps({"error": "too many open connections; retry shortly"}).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class _Connections:
    """The open connections of one site, those still sending their head first, and those
    queued for their turn to be read."""

    def __init__(self, limit: int, header_timeout: float, rate: float) -> None:
        self.limit = limit
        self.header_timeout = header_timeout
        self.count = 0
        self.waiting: dict[_Guard, None] = {}  # insertion order: the oldest first
        self.interval = 1.0 / rate
        self.next_turn = float("-inf")
        self.queued: deque[_Guard] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def admit(self, guard: _Guard) -> None:
        """Let ``guard`` be read now if its turn has come, else queue it (reading paused)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not self.queued and now >= self.next_turn:
            self.next_turn = now + self.interval
            guard.start()
            return
        guard.pause()
        self.queued.append(guard)
        if self._timer is None:
            self._timer = loop.call_at(self.next_turn, self._next)

    def _next(self) -> None:
        self._timer = None
        while self.queued:
            guard = self.queued.popleft()
            if guard.start():
                break
        loop = asyncio.get_running_loop()
        self.next_turn = loop.time() + self.interval
        if self.queued:
            self._timer = loop.call_at(self.next_turn, self._next)


class _Guard(asyncio.Protocol):
    """One connection: counts it, times its head, hands everything to aiohttp's protocol."""

    def __init__(self, inner: asyncio.Protocol, connections: _Connections) -> None:
        self._inner = inner
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""
        self._counted = False
        self._held: list[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        connections = self._connections
        if connections.count >= connections.limit:
            oldest = next(iter(connections.waiting), None)
            if oldest is None:
                transport.write(_busy_response())
                transport.close()
                return
            oldest.drop(f"the connection limit ({connections.limit}) was reached")
        connections.count += 1
        self._counted = True
        self._transport = transport
        connections.waiting[self] = None
        self._inner.connection_made(transport)
        connections.admit(self)

    def pause(self) -> None:
        """Queued: what arrives is held (and reading paused) until its turn."""
        self._held = []

    def start(self) -> bool:
        """Its turn: read the request, timing its head. False when already closed."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        connections = self._connections
        self._timer = asyncio.get_running_loop().call_later(
            connections.header_timeout,
            self.drop,
            f"no request head within {connections.header_timeout} s",
        )
        held, self._held = self._held, None
        if held is not None:
            transport.resume_reading()
            for data in held:
                self.data_received(data)
        return True

    def drop(self, why: str) -> None:
        """Close a connection that has not sent its request head."""
        if self._transport is None:
            return
        peer = self._transport.get_extra_info("peername")
        log.warning("HTTP connection from %s closed: %s", peer[0] if peer else "?", why)
        self._release()
        self._transport.abort()

    def _release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._connections.waiting.pop(self, None)
        if self._counted:
            self._counted = False
            self._connections.count -= 1

    def data_received(self, data: bytes) -> None:
        if self._transport is None:  # refused at the cap: aiohttp never saw it
            return
        if self._held is not None:  # queued: keep it, read nothing more until the turn
            self._held.append(data)
            self._transport.pause_reading()
            return
        if self._timer is not None:
            seen = self._tail + data
            if _HEAD_END in seen:
                self._timer.cancel()
                self._timer = None
                self._connections.waiting.pop(self, None)
            self._tail = seen[-(len(_HEAD_END) - 1) :]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._transport is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is None:
            return
        self._release()
        self._transport = None
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._transport is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._transport is not None:
            self._inner.resume_writing()


class GuardedSite(web.BaseSite):
    """A TCP site whose connections are capped and whose request heads are timed."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        max_connections: int,
        header_timeout: float,
        max_requests_per_second: float,
    ) -> None:
        super().__init__(runner)
        self._host = host
        self._port = port
        self._connections = _Connections(max_connections, header_timeout, max_requests_per_second)

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        connections = self._connections
        factory: Callable[[], asyncio.Protocol] = lambda: _Guard(server(), connections)  # noqa: E731
        self._server = await asyncio.get_running_loop().create_server(
            factory, self._host, self._port
        )
