"""Exceptions of the runtime, each raised in one situation."""

from __future__ import annotations

__all__ = ("ActorEscalation", "AtriumError", "FatalInputError", "SnapshotError")


class AtriumError(Exception):
    """Base of Atrium's own errors; the CLI prints these without a traceback."""


class ActorEscalation(AtriumError):
    """Raised by the supervisor when an actor failed past its restart limit.

    Everything was stopped cleanly before this propagates.
    """

    def __init__(self, actor: str, reason: str) -> None:
        super().__init__(f"actor {actor!r} stopped the runtime: {reason}")
        self.actor = actor
        self.reason = reason


class FatalInputError(AtriumError):
    """Raised by a source when bad input must stop the run (a feed under policy ``fail``).

    The message names the file, the line and the problem.
    """


class SnapshotError(AtriumError):
    """Raised when actor state cannot be written as a snapshot, or a snapshot does not load.

    Writing: the state holds an object of a class not declared as a state type.
    Loading: the bytes are not a snapshot this Atrium wrote (damage, or another format).
    """
