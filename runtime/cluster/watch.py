"""The replay driver's view of the stream: the last sequence stored on every subject.

The replay barrier asks whether each role's consumer has acknowledged the last message
its filter matches. A consumer's pending count cannot answer that: the server updates it
after it acknowledges the publish, so for a moment a message just stored is pending for
nobody. An ordered consumer over the whole stream (headers only) tells the driver the
subject of every stored sequence instead, and a consumer's acknowledgement floor, which
only moves once it has acknowledged, is compared with that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

__all__ = ("StreamWatch", "subject_matches")


def subject_matches(subject: str, pattern: str) -> bool:
    """NATS subject matching: ``*`` is one token, a final ``>`` one token or more."""
    tokens, wanted = subject.split("."), pattern.split(".")
    for index, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > index
        if index >= len(tokens) or (token != "*" and token != tokens[index]):
            return False
    return len(tokens) == len(wanted)


class StreamWatch:
    """Follows the stream as it is stored: the last sequence per subject, and overall."""

    def __init__(self) -> None:
        self.seen = 0
        #: Called after each message seen (the replay barrier waits on it).
        self.on_seen: Callable[[], None] | None = None
        self._last: dict[str, int] = {}
        self._matching: dict[tuple[str, ...], set[str]] = {}

    async def open(self, js: JetStreamContext, stream: str, subject: str) -> None:
        """Follow ``stream`` from its first message (a replay starts on an empty one)."""
        await js.subscribe(
            subject,
            stream=stream,
            cb=self._on_message,
            ordered_consumer=True,
            headers_only=True,
            idle_heartbeat=1.0,
        )

    async def _on_message(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        if seq <= self.seen:
            return  # the ordered consumer started over after a gap
        self.seen = seq
        subject = msg.subject
        if subject not in self._last:
            for patterns, subjects in self._matching.items():
                if any(subject_matches(subject, pattern) for pattern in patterns):
                    subjects.add(subject)
        self._last[subject] = seq
        if self.on_seen is not None:
            self.on_seen()

    def last_of(self, subject: str) -> int:
        """The sequence of the last message seen on ``subject`` (0: none)."""
        return self._last.get(subject, 0)

    def last_matching(self, patterns: Sequence[str]) -> int:
        """The sequence of the last message seen that one of ``patterns`` matches."""
        key = tuple(patterns)
        subjects = self._matching.get(key)
        if subjects is None:
            subjects = self._matching[key] = {
                subject
                for subject in self._last
                if any(subject_matches(subject, pattern) for pattern in key)
            }
        return max((self._last[subject] for subject in subjects), default=0)
