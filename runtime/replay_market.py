"""How ``atrium replay`` journals its market data, and replays a journal that references it.

Before the run, :func:`plan_market_data` settles the ``[market_data]`` section and where
its records go (:func:`~runtime.market_refs.storage_mode`). A ``--feed`` journal that
references files stands for the recorded run's own section: its files are checked and
read again, up to the records the run sent. After the run, :func:`finish_market_data`
writes the references (what each feed sent, the files hashed) or, when the run replayed
references, checks that every feed sent exactly what was recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from atrium.config.market_data import FeedConfig, MarketDataConfig
from atrium.runtime.errors import AtriumError, JournalError, UsageError
from atrium.runtime.journal import Journal, MarketDataMode
from atrium.runtime.market_refs import (
    FeedRanges,
    Referenced,
    check_ranges,
    is_journal_feed,
    read_references,
    references,
    storage_mode,
)
from atrium.runtime.supervisor import ActorSlot

__all__ = ("MarketDataPlan", "finish_market_data", "plan_market_data")


@dataclass(frozen=True)
class MarketDataPlan:
    """The market data section of a replay and how its journal keeps the records."""

    section: MarketDataConfig | None
    mode: MarketDataMode
    #: The references this run replays, and the journal as the user named it.
    replayed: Referenced | None = None
    replayed_from: str = ""

    def for_actor(self, slot: ActorSlot | None) -> MarketDataPlan:
        """This plan, with blocks for references when the actor cannot say what it sent."""
        if self.mode == "references" and not (slot and issubclass(slot.cls, FeedRanges)):
            return MarketDataPlan(self.section, "blocks", self.replayed, self.replayed_from)
        return self


def plan_market_data(
    section: MarketDataConfig | None,
    *,
    feeds: tuple[str, ...],
    speed: float | None,
    copy: bool,
    cluster: bool,
) -> MarketDataPlan:
    """The section with the command line's ``feeds`` and ``speed``, and its journal mode.

    ``cluster``: a role of a cluster replay, whose market data crosses processes; its
    journal keeps one row per message, as a live journal does.

    Raises
    ------
    AtriumError
        When a feed cannot be used (a live feed, a referenced file that changed).
    """
    if section is None:
        return MarketDataPlan(None, "rows")
    changes: dict[str, Any] = {}
    if feeds:
        try:
            changes["feeds"] = [FeedConfig(path=str(Path(p).resolve())) for p in feeds]
        except ValueError as exc:
            raise AtriumError(
                f"--feed: {exc}; or list the feed in the config with its symbol"
            ) from None
    if speed is not None:
        changes["speed"] = speed
    section = msgspec.structs.replace(section, **changes) if changes else section
    try:
        section.check_replayable()
    except ValueError as exc:
        raise AtriumError(f"market_data.{exc}") from None
    source, replayed = _replayed(section)
    if replayed is not None:
        section = msgspec.structs.replace(replayed.section, speed=section.speed)
    mode = "rows" if cluster else storage_mode(section, copy=copy)
    return MarketDataPlan(section, mode, replayed, source)


def _replayed(section: MarketDataConfig) -> tuple[str, Referenced | None]:
    """The journal feed of ``section`` that references its market data, if there is one."""
    base = Path(section.base_dir)
    for feed in section.feeds:
        if not feed.path or not is_journal_feed(feed, base / feed.path):
            continue
        try:
            found = read_references(base / feed.path, feed.path)
        except JournalError:
            continue  # not a readable journal: the feed says why when it opens it
        if found is None:
            continue
        if len(section.feeds) > 1:
            raise UsageError(
                f"{feed.path}: its market data is referenced, not recorded in it; replay "
                "it as the only feed"
            )
        return str(base / feed.path), found
    return "", None


async def finish_market_data(plan: MarketDataPlan, journal: Journal, actor: object) -> None:
    """After the run: write the references, or check the replayed ones were reproduced."""
    if plan.mode != "references" or plan.section is None:
        return
    assert isinstance(actor, FeedRanges)  # for_actor() chose blocks otherwise
    ranges = actor.feed_ranges()
    if plan.replayed is not None:
        check_ranges(plan.replayed_from, plan.replayed.feeds, ranges)
    config, feeds = references(plan.section, ranges)
    await journal.write_references(config, [feed.row() for feed in feeds])
