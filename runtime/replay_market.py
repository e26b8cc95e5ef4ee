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

__all__ = (
    "MarketDataPlan",
    "command_line_feeds",
    "finish_market_data",
    "plan_market_data",
    "unfed_feeds",
)


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
    symbols: tuple[str, ...] = (),
) -> MarketDataPlan:
    """The section with the command line's ``feeds`` and ``speed``, and its journal mode.

    ``symbols`` (``--symbol``) name the symbols of ``feeds`` in order (see
    :func:`command_line_feeds`). ``cluster``: a role of a cluster replay, whose market data crosses processes; its
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
        changes["feeds"] = command_line_feeds(feeds, symbols)
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


def split_feed_argument(text: str) -> tuple[str, str | None]:
    """``PATH=SYMBOL`` as (path, symbol); a bare path (or one that exists with its ``=``) as is.

    A file's name need not say its symbol (``orcl-1995-2014.txt`` does, ``prices.csv``
    does not), so the command line can name it.
    """
    path, sep, symbol = text.rpartition("=")
    if not sep or Path(text).exists() or not path or "/" in symbol or "\\" in symbol:
        return text, None
    return path, symbol


def command_line_feeds(feeds: tuple[str, ...], symbols: tuple[str, ...]) -> list[FeedConfig]:
    """The ``--feed`` arguments as feeds; the i-th ``--symbol`` names the i-th feed's symbol.

    Raises
    ------
    UsageError
        When there are more ``--symbol`` than ``--feed``, a feed is named twice over, or
        a feed's symbol cannot be known.
    """
    if len(symbols) > len(feeds):
        raise UsageError(
            f"--symbol: {len(symbols)} given for {len(feeds)} --feed; give one per feed, "
            "in the order of the feeds, or write --feed PATH=SYMBOL"
        )
    result = []
    for index, argument in enumerate(feeds):
        path, symbol = split_feed_argument(argument)
        if index < len(symbols):
            if symbol is not None and symbol != symbols[index]:
                raise UsageError(
                    f"--feed {argument}: names symbol {symbol!r}, --symbol says "
                    f"{symbols[index]!r}; give one"
                )
            symbol = symbols[index]
        try:
            result.append(FeedConfig(path=str(Path(path).resolve()), symbol=symbol))
        except ValueError as exc:
            raise UsageError(
                f"--feed {argument}: {exc}; write --feed PATH=SYMBOL or list the feed in "
                "the config with its symbol"
            ) from None
    return result


def unfed_feeds(section: MarketDataConfig, strategies: dict[str, list[str]]) -> list[str]:
    """A warning for each feed whose symbol no strategy trades (its bars reach no one).

    ``strategies`` maps each enabled strategy to its symbols. Journal, synthetic and live
    feeds name their symbols as they go, so only file feeds with one symbol are checked.
    """
    if not strategies:
        return []
    traded = {symbol for symbols in strategies.values() for symbol in symbols}
    described = "; ".join(
        f"{name} trades {', '.join(symbols)}" for name, symbols in sorted(strategies.items())
    )
    warnings = []
    for feed in section.feeds:
        path = Path(section.base_dir) / feed.path
        if not feed.path or is_journal_feed(feed, path) or _columnar(feed, path):
            continue
        if feed.feed_symbol not in traded:
            warnings.append(
                f"feed {feed.feed_name} carries symbol {feed.feed_symbol}, which no strategy "
                f"trades ({described}); it feeds no strategy. Name its symbol with "
                f"--feed PATH=SYMBOL or symbol = ... in the config"
            )
    return warnings


def _columnar(feed: FeedConfig, path: Path) -> bool:
    """A Parquet or Arrow file with no symbol set: it may name its own (metadata, column)."""
    if feed.symbol is not None:
        return False
    if feed.format in ("parquet", "arrow"):
        return True
    try:
        with path.open("rb") as file:
            return file.read(6).startswith((b"PAR1", b"ARROW1"))
    except OSError:
        return False


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
