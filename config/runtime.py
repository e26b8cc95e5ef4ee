"""``[runtime]``: event loop, batching and supervision settings shared by every actor."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from atrium.config.base import ConfigBase

__all__ = ("RuntimeConfig",)

PositiveInt = Annotated[int, msgspec.Meta(gt=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]


class RuntimeConfig(ConfigBase, frozen=True, kw_only=True):
    """Runtime machinery.

    Parameters
    ----------
    max_batch : int, default 256
        Most messages handled in a row before the event loop gets a turn (the journal
        writer, the HTTP API).
    use_uvloop : bool, default True
        Run on uvloop when it is installed (``pip install 'atrium-trading[speed]'``).
    max_restarts : int, default 3
        Restarts allowed per actor within ``restart_window_seconds`` before escalation.
    restart_window_seconds : float, default 60
        The window the restart intensity is counted over.
    backoff_initial_seconds, backoff_max_seconds : float, default 0.05, 5.0
        Exponential backoff between restarts of one actor.
    shutdown_grace_seconds : float, default 10
        How long a graceful shutdown waits for mailboxes to drain.
    log_level : str, default "INFO"
    """

    max_batch: PositiveInt = 256
    use_uvloop: bool = True
    max_restarts: Annotated[int, msgspec.Meta(ge=0)] = 3
    restart_window_seconds: PositiveFloat = 60.0
    backoff_initial_seconds: Annotated[float, msgspec.Meta(ge=0)] = 0.05
    backoff_max_seconds: Annotated[float, msgspec.Meta(ge=0)] = 5.0
    shutdown_grace_seconds: PositiveFloat = 10.0
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
