"""Exceptions of the runtime, each raised in one situation."""

from __future__ import annotations

from atrium.errors import AtriumError  # the base, shared with atrium.config

__all__ = (
    "ActorEscalation",
    "AtriumError",
    "ExportError",
    "FatalInputError",
    "JournalError",
    "MailboxOverflow",
    "RecoveryError",
    "RuntimeStopped",
    "SalvageError",
    "SnapshotError",
    "TopologyError",
    "UsageError",
    "VenuePriceMissing",
    "VenueStreamStale",
    "VenueUnreachable",
)


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


class MailboxOverflow(AtriumError):
    """Raised when one input makes more messages for an actor than its mailbox holds.

    The supervisor escalates: the topology is sized too small for what one input causes.
    """

    def __init__(self, actor: str, capacity: int) -> None:
        super().__init__(
            f"mailbox of {actor!r} overflowed its capacity of {capacity} messages while "
            f"handling one input; raise [topology.actors.{actor}].mailbox_capacity"
        )
        self.actor = actor
        self.capacity = capacity


class RuntimeStopped(AtriumError):
    """Raised when an input is offered to a dispatcher that stopped at once (an
    escalation, or a second signal): nothing more is handled."""

    def __init__(self) -> None:
        super().__init__("the runtime stopped at once; no more input is taken")


class TopologyError(AtriumError):
    """Raised when the topology names an unknown message kind, class or section."""


class UsageError(AtriumError):
    """Raised when a command-line argument cannot be used as given (an ``--out`` that
    cannot be written, or that would overwrite the feed); the CLI exits 2.
    """


class SnapshotError(AtriumError):
    """Raised when actor state cannot be written as a snapshot, or a snapshot does not load.

    Writing: the state holds an object of a class not declared as a state type.
    Loading: the bytes are not a snapshot this Atrium wrote (damage, or another format).
    """


class SalvageError(AtriumError):
    """Raised when ``salvage`` must not write its ``OUT`` file (it exists, or is ``IN``)."""


class RecoveryError(AtriumError):
    """The journal cannot rebuild the actors exactly; the service must not trade."""


class VenueUnreachable(AtriumError):
    """A live venue stayed unreachable at start for longer than its retry bound."""


class VenuePriceMissing(AtriumError):
    """Raised when a live venue quotes no last price for an asset the account holds, so
    its balance cannot be valued; the session logs it, counts it and asks again."""


class VenueStreamStale(AtriumError):
    """Raised when a venue's order-update websocket delivered nothing (no report, no pong)
    for ``[execution.ccxt].stale_after_s``; the session treats it as dropped."""


class ExportError(AtriumError):
    """Raised when ``export`` cannot or must not write its ``--out`` file."""


class JournalError(AtriumError):
    """Raised when a journal file cannot be opened, is corrupt, or has another schema."""
