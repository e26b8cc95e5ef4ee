"""``[replay]``: how ``atrium replay`` runs and where it writes."""

from __future__ import annotations

from typing import Annotated

import msgspec

from atrium.config.base import ConfigBase

__all__ = ("ReplayConfig",)


class ReplayConfig(ConfigBase, frozen=True, kw_only=True):
    """Replay settings.

    Parameters
    ----------
    out_dir : str, default "replay-out"
        Directory for ``journal.sqlite``, ``trades.csv``, ``equity.csv``, ``summary.json``
        and ``report.html`` (relative to the working directory).
    speed : float, default 0
        0 replays as fast as possible; ``X`` paces at X times recorded time.
    risk_free_rate : float, default 0
        Annual risk-free rate for the Sharpe and Sortino ratios (and alpha).
    benchmark : list of str, default []
        Symbols of the buy-and-hold the report compares the run with, in equal parts
        from their first price; ``[]``: the symbols the enabled strategies trade. A symbol
        no strategy trades needs its own feed in ``[market_data]`` (e.g. an index file).
    """

    out_dir: str = "replay-out"
    speed: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    risk_free_rate: float = 0.0
    benchmark: list[str] = msgspec.field(default_factory=list)
