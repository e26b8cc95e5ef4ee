"""``[journal]``: the SQLite event journal."""

from __future__ import annotations

from typing import Annotated

import msgspec

from config.base import ConfigBase

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
    """

    enabled: bool = True
    path: str = "atrium-journal.sqlite"
    batch_size: Annotated[int, msgspec.Meta(gt=0)] = 2048
