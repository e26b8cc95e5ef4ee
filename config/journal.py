"""``[journal]``: the SQLite event journal."""

from __future__ import annotations

from typing import Annotated, Final, Literal

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
    durability : {"process", "power"}, default "process"
        What a commit survives before any actor acts on the order, fill or control it
        holds (docs/recovery.md): ``process``, the process being killed (written to the
        operating system; SQLite ``synchronous=NORMAL``); ``power``, also a power loss
        or kernel crash (flushed to the disk, ``synchronous=FULL``, ~0.2 ms a commit).
    synchronous : {"normal", "full"}, optional
        The older spelling of ``durability`` (``normal``: ``process``, ``full``:
        ``power``); when both are given they must agree.
    """

    enabled: bool = True
    path: str = "atrium-journal.sqlite"
    batch_size: Annotated[int, msgspec.Meta(gt=0)] = 2048
    snapshot_every: Annotated[int, msgspec.Meta(ge=0)] = 50_000
    durability: Literal["process", "power"] | None = None
    synchronous: Literal["normal", "full"] | None = None

    def __post_init__(self) -> None:
        given = self.durability, self.synchronous
        if None not in given and _LEVELS[str(self.synchronous)] != self.durability:
            raise ValueError(
                f"durability: {self.durability!r} contradicts synchronous = "
                f"{self.synchronous!r} (its older spelling); give one of them"
            )

    @property
    def level(self) -> Literal["process", "power"]:
        """The durability level in force (``process`` unless one of the two says else)."""
        if self.durability is not None:
            return self.durability
        return _LEVELS[self.synchronous or "normal"]


_LEVELS: Final[dict[str, Literal["process", "power"]]] = {"normal": "process", "full": "power"}
