"""The plain subjects a replay with local market data keeps its roles in step over.

The order flow of such a replay and its step markers (:mod:`atrium.runtime.cluster.steps`)
cross on plain NATS subjects, one per direction and strategy role: the core sends a role
everything for its strategies, then its ``Step`` markers, on ``<ns>.step.<role>``, and the
role sends its intents and ``Done`` markers on ``<ns>.done.<role>``. A plain delivery costs
half a JetStream one (no store, no acknowledgement, no pull request), and a trade needs
two deliveries in a row per event it is open in. Nothing is lost silently: each sender
numbers what it sends on a subject, and a receiver that finds a number missing stops the
replay, which can be run again (a replay is deterministic; the stream is not needed to
resume it). The number and whether the payload is a marker travel in a small envelope,
not in NATS headers, which the client parses at several times the cost. The sending role
is the subject's last token. The replay's start and end stay on the stream, where a role
that starts late finds them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import anyio
import msgspec
from nats.aio.msg import Msg

from atrium.runtime.cluster.link import Link
from atrium.runtime.errors import AtriumError

__all__ = ("StepWire", "WiredHandler")

#: Called with what arrived: the sending role, whether it is a marker, and the payload.
WiredHandler = Callable[[str, bool, bytes], Awaitable[None]]


class _Envelope(msgspec.Struct, array_like=True, frozen=True):
    """One NATS message on a step subject: the sender's number for it on the subject, and
    what was queued for the subject since the last, in order, each with whether it is a
    Step or Done marker (else a message)."""

    number: int
    items: list[tuple[bool, bytes]]


_encode: Final = msgspec.msgpack.Encoder().encode
_decode: Final = msgspec.msgpack.Decoder(_Envelope).decode


class StepWire:
    """Numbered sending, and checked receiving, on the step subjects of one role."""

    def __init__(self, link: Link, role: str) -> None:
        self._link, self._role = link, role
        self._outbox: dict[str, list[tuple[bool, bytes]]] = {}
        self._sent: dict[str, int] = {}
        self._seen: dict[str, int] = {}
        self._handler: WiredHandler | None = None
        self._failure: Exception | None = None
        self._failed = anyio.Event()

    async def listen(self, subject: str, handler: WiredHandler) -> None:
        """Hand what comes on ``subject`` (a filter) to ``handler``, one at a time, in
        order of arrival (from the client's delivery task: no hop through another)."""
        self._handler = handler
        await self._link.listen(subject, self._on_message)

    def put(self, subject: str, payload: bytes, *, marker: bool) -> None:
        """Queue ``payload`` for ``subject`` behind what waits; :meth:`send` sends it."""
        self._outbox.setdefault(subject, []).append((marker, payload))

    async def send(self) -> None:
        """Publish what is queued, one NATS message per subject (a fill, its position
        and the step that follows cost one delivery, not three)."""
        while self._outbox:
            batch, self._outbox = self._outbox, {}
            for subject, items in batch.items():
                number = self._sent[subject] = self._sent.get(subject, 0) + 1
                await self._link.send_plain(subject, _encode(_Envelope(number, items)))

    async def _on_message(self, msg: Msg) -> None:
        if self._failure is not None or self._handler is None:
            return  # the replay stops: nothing more is handled
        subject = msg.subject
        try:
            envelope = _decode(msg.data)
            expected = self._seen.get(subject, 0) + 1
            if envelope.number != expected:
                raise AtriumError(
                    f"cluster replay: message {expected} on {subject} was lost (got "
                    f"{envelope.number}); the replay cannot go on exactly: run it again"
                )
            self._seen[subject] = envelope.number
            sender = subject.rpartition(".")[2]
            for marker, payload in envelope.items:
                await self._handler(sender, marker, payload)
        except Exception as exc:  # raised from the role's task by failed(), not the client's
            self._failure = exc
            self._failed.set()

    async def failed(self) -> None:
        """Return never; raise what went wrong with what arrived (a lost message, one
        that does not decode, a handler's error)."""
        await self._failed.wait()
        assert self._failure is not None
        raise self._failure
