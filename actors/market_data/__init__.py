"""Market data: feeds (CSV bars and ticks, journals, synthetic, live), validation, the actor.

The topology loads :class:`MarketDataActor` (``atrium.actors.market_data:MarketDataActor``);
the rest is the feed API, usable on its own (benchmarks, tools, tests). The WebSocket
client is :class:`atrium.actors.market_data.live_websocket.WebSocketFeed`, not imported here:
``websockets`` (and ``ssl``) load only when a WebSocket feed runs.
"""

from atrium.actors.market_data.actor import MarketDataActor as MarketDataActor
from atrium.actors.market_data.aggregate import aggregate_ticks as aggregate_ticks
from atrium.actors.market_data.csv_feed import CsvFeed as CsvFeed
from atrium.actors.market_data.feeds import Feed as Feed
from atrium.actors.market_data.feeds import open_feed as open_feed
from atrium.actors.market_data.feeds import open_live_feed as open_live_feed
from atrium.actors.market_data.journal import JournalFeed as JournalFeed
from atrium.actors.market_data.live import FeedStatus as FeedStatus
from atrium.actors.market_data.live import LiveFeed as LiveFeed
from atrium.actors.market_data.live_synthetic import SyntheticLiveFeed as SyntheticLiveFeed
from atrium.actors.market_data.merge import merge_feeds as merge_feeds
from atrium.actors.market_data.rejections import Rejections as Rejections
from atrium.actors.market_data.synthetic import SyntheticFeed as SyntheticFeed
from atrium.actors.market_data.validation import REASONS as REASONS

__all__ = (
    "REASONS",
    "CsvFeed",
    "Feed",
    "FeedStatus",
    "JournalFeed",
    "LiveFeed",
    "MarketDataActor",
    "Rejections",
    "SyntheticFeed",
    "SyntheticLiveFeed",
    "aggregate_ticks",
    "merge_feeds",
    "open_feed",
    "open_live_feed",
)
