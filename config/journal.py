"""``[journal]``: the SQLite event journal."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from atrium.config.base import ConfigBase

__all__ = ("JournalConfig",)


class JournalConfig(ConfigBase, frozen=True, kw_only=True):
    """Event journal settings.

    Parameters
    ----------
    enabled : bool, default True
    path : str, default "atrium-journal.sqlite"
        Used by ``atrium run``; ``atrium replay`` writes ``<out>/journal.sqlite``.
    batch_size : int, default 2048
        Most rows written in one ``executemany``; market data is committed in batches,
        orders, fills and controls are committed before their effects are acknowledged.
    snapshot_every : int, default 50000
        ``atrium run`` snapshots every actor's state after this many events, so a
        restart re-runs at most that many; 0: no snapshots (recovery re-runs the whole
        session).
    synchronous : {"normal", "full"}, default "normal"
        SQLite's ``synchronous`` setting. ``normal`` survives the process being killed
        (the operating system holds what was committed); ``full`` also survives power
        loss, at the price of a disk flush per commit.
    """

    enabled: bool = True
    path: str = "atrium-journal.sqlite"
    batch_size: Annotated[int, msgspec.Meta(gt=0)] = 2048
    snapshot_every: Annotated[int, msgspec.Meta(ge=0)] = 50_000
    synchronous: Literal["normal", "full"] = "normal"
