"""A point's equity.csv read back, for sweep.html's curves and walk-forward's stitching."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

__all__ = ("read_equity", "to_ns")


def to_ns(text: str) -> int:
    """An ISO time of equity.csv (``...Z``) in integer nanoseconds since the epoch."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000


def read_equity(path: Path) -> list[tuple[int, float]]:
    """``(time in ns, equity)`` per row of an equity.csv; empty when there is none."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [(to_ns(row["time"]), float(row["equity"])) for row in csv.DictReader(handle)]
