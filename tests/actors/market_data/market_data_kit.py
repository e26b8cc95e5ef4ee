"""Helpers shared by the market data tests: the real data directory and feed runners."""

from __future__ import annotations

import calendar
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from atrium.actors.market_data import Rejections, open_feed
from atrium.config.market_data import FeedConfig
from atrium.runtime.messages import Bar, Tick

#: The shared real market data (``../shared/data`` beside the repository).
DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"

LOG = logging.getLogger("atrium.market_data.test")


def ns(text: str) -> int:
    """An ISO timestamp (naive: UTC) in integer ns, worked out independently of the feeds."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = calendar.timegm(moment.utctimetuple())
    return seconds * 1_000_000_000 + moment.microsecond * 1_000


def read(
    path: str,
    *,
    base_dir: Path = DATA,
    policy: Literal["skip", "fail"] = "skip",
    **settings: Any,
) -> tuple[list[Bar | Tick], Rejections]:
    """Every record of one feed, and the rejections it produced."""
    rejections = Rejections(policy, log=LOG)
    feed = open_feed(
        FeedConfig(path=path, **settings), base_dir=str(base_dir), rejections=rejections, log=LOG
    )
    return list(feed), rejections


def write(directory: Path, name: str, *lines: str) -> str:
    """Write ``lines`` as a file in ``directory``; return its name (the feed path)."""
    (directory / name).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return name
