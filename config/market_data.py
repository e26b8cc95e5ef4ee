"""``[market_data]``: the feeds the market data actor reads, and how it treats bad rows.

A feed is one file (CSV bars, CSV ticks, an Atrium journal), a seeded synthetic
generator, or -- in ``atrium run`` only -- a live feed: seeded ticks paced in wall time
(``synthetic_live``), an exchange trade stream (``websocket``), or the trades of any
exchange ccxt knows (``ccxt``). File feeds are merged into one stream in timestamp
order; for equal timestamps the feed listed first goes first, so a replay never depends
on file timing. Live feeds run side by side, each as it
arrives; they cannot be replayed, but what they deliver is journaled and the journal can.

Example::

    [market_data]
    on_error = "fail"

    [[market_data.feeds]]
    path = "data/nvda-1999-2014.txt"          # format "auto": Yahoo daily, symbol NVDA

    [[market_data.feeds]]
    path = "data/es-ticks.csv"
    format = "ticks"
    symbol = "ES"
    bar_seconds = 60                           # aggregate ticks into one-minute bars
    timezone = "America/Chicago"               # the file's naive timestamps are local

    [[market_data.feeds]]
    format = "synthetic"
    [market_data.feeds.synthetic]
    seed = 7
    symbols = ["AAA", "BBB"]

Live (``atrium run``)::

    [[market_data.feeds]]
    format = "synthetic_live"
    synthetic_live = { seed = 1, symbols = ["SYN"], rate_per_second = 50.0 }

    [[market_data.feeds]]
    format = "websocket"
    name = "binance"
    websocket = { url = "wss://stream.binance.com:9443/ws", symbols = ["BTCUSDT"] }

    [[market_data.feeds]]
    format = "ccxt"
    ccxt = { exchange = "binance", symbols = ["BTC/USDT"] }
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import PurePath
from typing import Annotated, Final, Literal, TypeAlias

import msgspec

from atrium.config.base import ConfigBase

__all__ = (
    "COLUMNAR_FORMATS",
    "COLUMN_ROLES",
    "EPOCH_FORMATS",
    "LIVE_FORMATS",
    "Adjust",
    "CcxtFeedConfig",
    "FeedConfig",
    "FeedFormat",
    "MarketDataConfig",
    "SyntheticConfig",
    "SyntheticLiveConfig",
    "WebSocketConfig",
    "symbol_from_path",
)

FeedFormat: TypeAlias = Literal[
    "auto",
    "yahoo",
    "date_time",
    "iso",
    "ticks",
    "synthetic",
    "journal",
    "parquet",
    "arrow",
    "synthetic_live",
    "websocket",
    "ccxt",
]

#: How a bar feed's prices are adjusted from its ``Adj Close`` column.
Adjust: TypeAlias = Literal["none", "splits", "splits_dividends"]

#: Columnar file formats read with pyarrow.
COLUMNAR_FORMATS: Final = ("parquet", "arrow")

#: Formats that produce data as it happens (``atrium run``); they cannot be replayed.
LIVE_FORMATS: Final = ("synthetic_live", "websocket", "ccxt")
#: Live formats that need their own table, and what the table holds.
_REQUIRED_TABLES: Final = {
    "websocket": "a table with url and symbols",
    "ccxt": "a table with exchange and symbols",
}
#: Formats that read no file.
_FILELESS: Final = ("synthetic", *LIVE_FORMATS)
#: Formats whose records name their own symbols.
_OWN_SYMBOLS: Final = ("journal", *_FILELESS)

#: Keys of :attr:`FeedConfig.columns`: the roles a CSV column can play.
COLUMN_ROLES: Final = (
    "timestamp",
    "date",
    "time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "price",
    "size",
    "adj_close",
)

#: Special values of :attr:`FeedConfig.timestamp_format`: numeric Unix epoch timestamps.
EPOCH_FORMATS: Final = ("epoch_s", "epoch_ms", "epoch_us", "epoch_ns")

PositiveInt = Annotated[int, msgspec.Meta(gt=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
_OFFSET: Final = re.compile(r"^[+-](?:[01]\d|2[0-3]):[0-5]\d$")
_SYMBOL_END: Final = re.compile(r"[-_. ]")
_EXCHANGE_ID: Final = re.compile(r"^[a-z0-9_]+$")


def symbol_from_path(path: str) -> str | None:
    """The symbol a file name implies: its stem up to the first ``-``, ``_``, ``.`` or space.

    ``nvda-1999-2014.txt`` gives ``NVDA``. Returns ``None`` when that part does not start
    with a letter (``2006-01-02-volume-min-001.txt``), so a date is never taken for a symbol.
    """
    stem = PurePath(path).name
    head = _SYMBOL_END.split(stem, maxsplit=1)[0]
    if not head or not head[0].isalpha():
        return None
    return head.upper()


def _check_timezone(value: str) -> None:
    if value == "UTC" or _OFFSET.match(value):
        return
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"timezone: unknown time zone {value!r}; use 'UTC', an offset like '+05:30' "
            "or an IANA name like 'America/New_York'"
        ) from None


def _window_ns(key: str, text: str) -> int:
    """An ISO date or time (naive: UTC) as integer nanoseconds, or ``ValueError`` naming ``key``."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{key}: expected an ISO date or time like '2004-01-01', got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _check_symbols(symbols: list[str]) -> None:
    if not symbols:
        raise ValueError("symbols: list at least one symbol")
    if any(not symbol for symbol in symbols):
        raise ValueError("symbols: a symbol must be a non-empty string")
    if len(set(symbols)) != len(symbols):
        raise ValueError(f"symbols: listed twice in {symbols}")


def _check_positive(config: msgspec.Struct, *keys: str) -> None:
    # msgspec cannot bound a Decimal field, so the bounds are checked here.
    for key in keys:
        value: Decimal = getattr(config, key)
        if not value.is_finite() or value <= 0:
            raise ValueError(f"{key}: expected a number > 0, got {value}")


class SyntheticConfig(ConfigBase, frozen=True, kw_only=True):
    """A seeded geometric Brownian motion: same seed and settings, same bars, every run.

    Each symbol has its own random stream seeded from ``seed`` and the symbol's name, so
    adding a symbol does not change the others' paths.

    Parameters
    ----------
    seed : int, default 0
    symbols : list of str, default ["SYN"]
        One price path per symbol; bars of one step are emitted in this order.
    drift : float, default 0.05
        Annualised drift (a year is 365 days of wall time).
    volatility : float, default 0.2
        Annualised volatility, >= 0.
    start_price : Decimal, default 100
        Open of every symbol's first bar, > 0.
    tick_size : Decimal, default 0.01
        Prices are whole multiples of this (never below one tick), > 0.
    bar_seconds : int, default 60
        Time between bars, > 0.
    count : int, default 1000
        Bars per symbol, >= 0.
    start : str, default "2024-01-02T00:00:00+00:00"
        ISO timestamp of the first bar (naive means UTC).
    intrabar_steps : int, default 4
        Random steps inside a bar; high and low are the extremes of that path.
    mean_volume : int, default 1000
        Mean of the exponentially distributed bar volume, > 0.
    """

    seed: int = 0
    symbols: list[str] = msgspec.field(default_factory=lambda: ["SYN"])
    drift: float = 0.05
    volatility: Annotated[float, msgspec.Meta(ge=0)] = 0.2
    start_price: Decimal = Decimal(100)
    tick_size: Decimal = Decimal("0.01")
    bar_seconds: PositiveInt = 60
    count: Annotated[int, msgspec.Meta(ge=0)] = 1000
    start: str = "2024-01-02T00:00:00+00:00"
    intrabar_steps: PositiveInt = 4
    mean_volume: PositiveInt = 1000

    def __post_init__(self) -> None:
        _check_symbols(self.symbols)
        _check_positive(self, "start_price", "tick_size")
        try:
            datetime.fromisoformat(self.start)
        except ValueError:
            raise ValueError(f"start: expected an ISO timestamp, got {self.start!r}") from None

    @property
    def start_ns(self) -> int:
        """:attr:`start` in integer nanoseconds since the Unix epoch (naive: UTC)."""
        moment = datetime.fromisoformat(self.start)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


#: A synthetic live feed is stale after this many intervals without a tick (or 10 s).
_SYNTHETIC_STALE_INTERVALS: Final = 10


class SyntheticLiveConfig(ConfigBase, frozen=True, kw_only=True):
    """Seeded ticks at a steady rate in wall time: the service demo with no network.

    One ``random.Random(seed)`` drives a geometric random walk per symbol; the symbols
    take turns (round robin), so the ``n``-th price depends on the settings only, never on
    timing. Ticks are stamped with the actor's clock when they are sent.

    Parameters
    ----------
    seed : int, default 1
    symbols : list of str, default ["SYN"]
        The symbols, ticked in turn.
    rate_per_second : float, default 50.0
        Ticks per second over all symbols, > 0.
    start_price : Decimal, default 100
        Each symbol's first price, > 0.
    volatility : float, default 0.2
        Annualised volatility (a year is 365 days of wall time), >= 0. Real-world values
        barely move in a minute; raise it (e.g. 5) for a lively demo.
    tick_size : Decimal, default 0.01
        Prices are whole multiples of this, never below one tick, > 0.
    size : Decimal, default 1
        The size of every trade, > 0.
    """

    seed: int = 1
    symbols: list[str] = msgspec.field(default_factory=lambda: ["SYN"])
    rate_per_second: PositiveFloat = 50.0
    start_price: Decimal = Decimal(100)
    volatility: Annotated[float, msgspec.Meta(ge=0)] = 0.2
    tick_size: Decimal = Decimal("0.01")
    size: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        _check_symbols(self.symbols)
        _check_positive(self, "start_price", "tick_size", "size")

    @property
    def stale_after_seconds(self) -> float:
        """No tick for this long means the feed is stalled: 10 intervals, at least 10 s."""
        return max(10.0, _SYNTHETIC_STALE_INTERVALS / self.rate_per_second)


class WebSocketConfig(ConfigBase, frozen=True, kw_only=True):
    """A client of the exchange trade-stream JSON format over WebSocket.

    Messages are ``{"e": "trade", "s": SYMBOL, "p": PRICE, "q": QTY, "T": MS}`` (``t``, the
    trade id, is used when present), bare or wrapped as ``{"stream": ..., "data": {...}}``.
    After each (re)connect the client sends, when ``subscribe`` is on::

        {"method": <subscribe_method>, "params": [<stream_format per symbol>, ...], "id": n}

    with ``n`` counting 1, 2, ... over the connections; symbols are lower-cased into
    ``stream_format`` (``BTCUSDT`` gives ``btcusdt@trade``).

    Parameters
    ----------
    url : str
        ``ws://`` or ``wss://`` address of the stream endpoint; required.
    symbols : list of str
        The symbols to subscribe to; required.
    subscribe : bool, default true
        Send the subscribe message; turn off when the URL itself names the streams
        (``.../stream?streams=btcusdt@trade``).
    subscribe_method : str, default "SUBSCRIBE"
        The ``method`` of the subscribe message.
    stream_format : str, default "{symbol}@trade"
        One ``params`` entry; ``{symbol}`` is the lower-cased symbol.
    reconnect_initial_seconds : float, default 0.5
        Wait before the first reconnect attempt, > 0; doubled after each failed attempt.
    reconnect_max_seconds : float, default 30
        Longest wait between attempts, >= ``reconnect_initial_seconds``.
    stale_after_seconds : float, default 10
        No message for this long: the connection is stale, closed and reopened, > 0.
    ping_interval_seconds : float, default 20
        Protocol-level keepalive ping interval; a ping unanswered for as long again
        closes the connection, > 0.
    connect_timeout_seconds : float, default 10
        Longest wait for the connection and handshake, > 0.
    """

    url: str
    symbols: list[str]
    subscribe: bool = True
    subscribe_method: str = "SUBSCRIBE"
    stream_format: str = "{symbol}@trade"
    reconnect_initial_seconds: PositiveFloat = 0.5
    reconnect_max_seconds: PositiveFloat = 30.0
    stale_after_seconds: PositiveFloat = 10.0
    ping_interval_seconds: PositiveFloat = 20.0
    connect_timeout_seconds: PositiveFloat = 10.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("ws://", "wss://")):
            raise ValueError(f"url: expected a ws:// or wss:// address, got {self.url!r}")
        _check_symbols(self.symbols)
        if not self.subscribe_method:
            raise ValueError("subscribe_method: must be a non-empty string")
        try:
            probe = self.stream_format.format(symbol="\0")
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                f"stream_format: {self.stream_format!r} may contain only the field {{symbol}}"
            ) from None
        if "\0" not in probe:
            raise ValueError(f"stream_format: {self.stream_format!r} must contain {{symbol}}")
        if self.reconnect_max_seconds < self.reconnect_initial_seconds:
            raise ValueError(
                f"reconnect_max_seconds: {self.reconnect_max_seconds:g} is below "
                f"reconnect_initial_seconds {self.reconnect_initial_seconds:g}"
            )

    def streams(self) -> list[str]:
        """The ``params`` of the subscribe message, one per symbol."""
        return [self.stream_format.format(symbol=symbol.lower()) for symbol in self.symbols]


class CcxtFeedConfig(ConfigBase, frozen=True, kw_only=True):
    """The trades of ``symbols`` on a ccxt exchange, as ``Tick``.

    Parameters
    ----------
    exchange : str
        A ccxt exchange id, e.g. ``"binance"``; required.
    symbols : list of str
        The markets to watch; required. Each is a ccxt unified symbol (``"BTC/USDT"``) or
        the exchange's own id (``"BTCUSDT"``), as ``[execution.ccxt].symbols`` takes them,
        and the ticks carry it as written: list them as the strategies and execution do.
    sandbox : bool, default False
        The exchange's test environment (ccxt ``set_sandbox_mode``).
    base_url : str or None, default None
        Send every REST call to this origin and every websocket to its ``ws://`` twin (a
        simulator or a proxy); ``None`` uses the exchange's own URLs.
    mode : {"auto", "websocket", "polling"}, default "auto"
        ``websocket``: ccxt.pro ``watch_trades``; ``polling``: REST ``fetch_trades`` every
        ``poll_interval_seconds``; ``auto``: websocket where the exchange has it.
    poll_interval_seconds : float, default 1
        Seconds between ``fetch_trades`` rounds when polling, > 0.
    stale_after_seconds : float, default 30
        No trade for this long: the stream is taken as dead, closed and reopened, > 0
        (a quiet market is reconnected too; set it above the market's longest lull).
    reconnect_initial_seconds : float, default 0.5
        Wait before the first reconnect, > 0; doubled after each attempt that brought no
        trade.
    reconnect_max_seconds : float, default 30
        Longest wait between attempts, >= ``reconnect_initial_seconds``.
    request_timeout_seconds : float, default 10
        Longest wait for one REST call, > 0.
    """

    exchange: str
    symbols: list[str]
    sandbox: bool = False
    base_url: str | None = None
    mode: Literal["auto", "websocket", "polling"] = "auto"
    poll_interval_seconds: PositiveFloat = 1.0
    stale_after_seconds: PositiveFloat = 30.0
    reconnect_initial_seconds: PositiveFloat = 0.5
    reconnect_max_seconds: PositiveFloat = 30.0
    request_timeout_seconds: PositiveFloat = 10.0

    def __post_init__(self) -> None:
        if not _EXCHANGE_ID.match(self.exchange):
            raise ValueError(
                f"exchange: expected a ccxt exchange id such as 'binance', got {self.exchange!r}"
            )
        _check_symbols(self.symbols)
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"base_url: expected an http:// or https:// origin, got {self.base_url!r}"
            )
        if self.reconnect_max_seconds < self.reconnect_initial_seconds:
            raise ValueError(
                f"reconnect_max_seconds: {self.reconnect_max_seconds:g} is below "
                f"reconnect_initial_seconds {self.reconnect_initial_seconds:g}"
            )


class FeedConfig(ConfigBase, frozen=True, kw_only=True):
    """One input of the market data actor.

    Parameters
    ----------
    path : str, default ""
        The file, relative to ``[market_data].base_dir``; required except for synthetic
        and live feeds.
    format : str, default "auto"
        One of auto, yahoo, date_time, iso, ticks, synthetic, journal, parquet, arrow,
        synthetic_live, websocket, ccxt.
        ``yahoo``: ``Date,Open,High,Low,Close,Adj Close,Volume`` daily bars (``Adj Close``
        optional and ignored). ``date_time``: ``Date,Time,Open,High,Low,Close,Volume[,...]``.
        ``iso``: ``Datetime,Open,High,Low,Close,Volume[,...]``. ``ticks``: ``timestamp,price,size``
        or an ISO bar layout whose ``Close`` is the price and ``Volume`` the size.
        ``journal``: the ``Bar``/``Tick`` events of an Atrium journal. ``parquet`` and
        ``arrow`` (Arrow IPC file): bars or ticks in columns named as CSV headers are, read
        with pyarrow (see ``docs/data.md``). ``auto`` detects a journal by its SQLite
        signature, Parquet and Arrow files by theirs and a CSV layout from its header (``price`` column:
        ticks; ``Date`` and ``Time``: date_time; ``Datetime``/``Timestamp``: iso; ``Date``:
        yahoo). A tick file laid out like ISO bars must say ``format = "ticks"``.
        ``synthetic_live``, ``websocket`` and ``ccxt`` are live feeds (``atrium run`` only;
        a replay refuses them): see :class:`SyntheticLiveConfig`, :class:`WebSocketConfig`
        and :class:`CcxtFeedConfig`.
    name : str or None, default None
        Label of the feed in metrics and logs; ``None``: the file name, or for a feed
        without a file its format (``synthetic``, ``synthetic_live``, ``websocket``, ``ccxt``).
    symbol : str or None, default None
        Symbol of a CSV feed; ``None``: derived from the file name (``nvda-1999.txt``: NVDA).
        Not used by journal, synthetic and live feeds, which carry their own symbols.
    columns : table of str, default {}
        Header names for column roles when the file's differ from the usual ones, e.g.
        ``{timestamp = "ts_event", price = "px"}``. Roles: timestamp, date, time, open,
        high, low, close, volume, price, size. Matched without regard to case.
    delimiter : str, default ","
        The single-character field separator.
    timezone : str, default "UTC"
        How to read timestamps that carry no offset: ``UTC``, a fixed offset (``+05:30``)
        or an IANA zone (``America/New_York``, daylight saving applied; an ambiguous local
        time takes its first occurrence). Timestamps with an offset keep their own.
    timestamp_format : str or None, default None
        ``None``: ISO dates and times. A :func:`~datetime.datetime.strptime` pattern such
        as ``"%m/%d/%Y"`` (date_time feeds see ``"<date> <time>"``), or ``epoch_s``,
        ``epoch_ms``, ``epoch_us``, ``epoch_ns`` for numeric Unix timestamps.
    max_line_length : int, default 1048576
        Longest line a CSV feed may have, in characters (1 Mi). A longer one is read past,
        never held in memory, and rejected as ``LINE_TOO_LONG`` under ``on_error``
        (``skip`` goes on with the next line).
    adjust : {"none", "splits", "splits_dividends"}, default "none"
        Adjust a Yahoo-style bar file by its ``Adj Close`` column (``columns.adj_close``
        names another): ``splits_dividends`` scales each row's prices by
        ``Adj Close / Close`` and its volume inversely; ``splits`` divides the rows before a
        split by its ratio (read from jumps of that factor; dividends left out). See
        ``docs/data.md``. Only for CSV bar feeds.
    bar_seconds : int or None, default None
        Aggregate a tick feed into time bars of this many seconds (stamped at the end of
        their interval); ``None`` emits the ticks themselves. A live feed sends both: each
        tick, and a bar whenever a tick opens a later interval (so bar strategies trade live).
    synthetic : SyntheticConfig or None, default None
        Parameters of a synthetic feed (``None``: the defaults); only for ``format = "synthetic"``.
    synthetic_live : SyntheticLiveConfig or None, default None
        Parameters of a synthetic live feed (``None``: the defaults); only for
        ``format = "synthetic_live"``.
    websocket : WebSocketConfig or None, default None
        The stream to connect to; required for ``format = "websocket"`` and only for it.
    ccxt : CcxtFeedConfig or None, default None
        The exchange and markets to watch; required for ``format = "ccxt"`` and only for it.
    """

    path: str = ""
    format: FeedFormat = "auto"
    name: str | None = None
    symbol: str | None = None
    columns: dict[str, str] = msgspec.field(default_factory=dict)
    delimiter: str = ","
    timezone: str = "UTC"
    timestamp_format: str | None = None
    max_line_length: Annotated[int, msgspec.Meta(ge=64)] = 1 << 20
    adjust: Adjust = "none"
    bar_seconds: PositiveInt | None = None
    synthetic: SyntheticConfig | None = None
    synthetic_live: SyntheticLiveConfig | None = None
    websocket: WebSocketConfig | None = None
    ccxt: CcxtFeedConfig | None = None

    def __post_init__(self) -> None:
        fileless = self.format in _FILELESS
        if fileless and self.path:
            raise ValueError(f"path: a {self.format} feed reads no file, got {self.path!r}")
        if not fileless and not self.path:
            raise ValueError(f"path: required for a {self.format!r} feed")
        for table in ("synthetic", "synthetic_live", "websocket", "ccxt"):
            if getattr(self, table) is not None and self.format != table:
                raise ValueError(f"{table}: only for format = {table!r}")
        needed = _REQUIRED_TABLES.get(self.format)
        if needed is not None and getattr(self, self.format) is None:
            raise ValueError(f"{self.format}: required for format = {self.format!r} ({needed})")
        if self.symbol is not None and self.format in _OWN_SYMBOLS:
            raise ValueError(f"symbol: a {self.format} feed carries its own symbols")
        if self.symbol == "":
            raise ValueError("symbol: must be a non-empty string")
        if self.name == "":
            raise ValueError("name: must be a non-empty string")
        if self.bar_seconds is not None and self.format not in (
            "auto",
            "ticks",
            *LIVE_FORMATS,
        ):
            raise ValueError(
                f"bar_seconds: only tick feeds are aggregated, format is {self.format!r}"
            )
        if self.adjust != "none" and (
            self.format in (*_OWN_SYMBOLS, *COLUMNAR_FORMATS, "ticks")
            or self.bar_seconds is not None
        ):
            raise ValueError(
                f"adjust: only CSV bar feeds are adjusted, format is {self.format!r}"
                + (" with bar_seconds" if self.bar_seconds is not None else "")
            )
        unknown = sorted(set(self.columns) - set(COLUMN_ROLES))
        if unknown:
            raise ValueError(
                f"columns: unknown role {unknown[0]!r}; roles are {', '.join(COLUMN_ROLES)}"
            )
        if len(self.delimiter) != 1:
            raise ValueError(f"delimiter: expected one character, got {self.delimiter!r}")
        _check_timezone(self.timezone)
        stamp_format = self.timestamp_format or ""
        if stamp_format.startswith("epoch") and stamp_format not in EPOCH_FORMATS:
            raise ValueError(
                f"timestamp_format: unknown epoch unit {stamp_format!r}; "
                f"use one of {', '.join(EPOCH_FORMATS)}"
            )
        needs_symbol = self.format not in _OWN_SYMBOLS
        if needs_symbol and self.symbol is None and symbol_from_path(self.path) is None:
            raise ValueError(
                f"symbol: cannot derive a symbol from the file name {PurePath(self.path).name!r}; "
                "set symbol (or format = 'journal' for an Atrium journal)"
            )

    @property
    def feed_name(self) -> str:
        """The label of this feed in metrics and log lines."""
        if self.name is not None:
            return self.name
        return PurePath(self.path).name if self.path else self.format

    @property
    def is_live(self) -> bool:
        """Whether the feed delivers data as it happens (and so cannot be replayed)."""
        return self.format in LIVE_FORMATS

    @property
    def stale_after_seconds(self) -> float | None:
        """Seconds a live feed may go without a message and stay ready (``None``: a file feed)."""
        if self.format == "synthetic_live":
            return (self.synthetic_live or SyntheticLiveConfig()).stale_after_seconds
        live = self.websocket or self.ccxt
        return None if live is None else live.stale_after_seconds

    @property
    def live_symbols(self) -> tuple[str, ...]:
        """The symbols a live feed carries (empty for file and synthetic feeds)."""
        if self.format == "synthetic_live":
            return tuple((self.synthetic_live or SyntheticLiveConfig()).symbols)
        live = self.websocket or self.ccxt
        return () if live is None else tuple(live.symbols)

    @property
    def feed_symbol(self) -> str:
        """The symbol of a CSV feed (configured, or derived from the file name)."""
        if self.symbol is not None:
            return self.symbol
        derived = symbol_from_path(self.path)
        if derived is None:  # __post_init__ refused this unless the feed carries symbols
            raise ValueError(f"feed {self.feed_name!r} carries its own symbols")
        return derived


class MarketDataConfig(ConfigBase, frozen=True, kw_only=True):
    """Settings of the market data actor.

    Parameters
    ----------
    feeds : list of FeedConfig, default []
        The inputs. File feeds are merged by timestamp (on equal timestamps the earlier
        feed goes first); live feeds run side by side. A symbol may come from one live
        feed only.
    on_error : {"skip", "fail"}, default "skip"
        A bad row (unparseable, non-positive or non-finite price, high/low inconsistent
        with open/close, negative volume, duplicate or out-of-order timestamp): ``skip``
        counts it per reason, logs file, line and problem, and goes on; ``fail`` stops the
        run with an error naming file, line and problem. Live feeds always skip: one bad
        message from a venue must not stop trading.
    speed : float, default 0
        0 sends as fast as the pipeline takes it; ``X`` paces file feeds at X times
        recorded time. Live feeds keep their own pace.
    base_dir : str, default "."
        Directory that relative feed paths are resolved against. The config loader sets it
        to the config file's directory, so a config works from any working directory.
    max_records : int or None, default None
        Stop after sending this many records of the file feeds, merged (``None``: read
        them to the end). A replay of a journal that references its files sets it to what
        the recorded run sent, so an interrupted run replays exactly as far as it went.
    start : str or None, default None
        Send only the file feeds' records stamped at or after this ISO date or time (naive:
        UTC). With ``end`` it restricts a replay to a window, as a walk-forward sweep
        does, without cutting the files.
    end : str or None, default None
        Send only records stamped before this ISO date or time (exclusive, naive: UTC);
        must be after ``start``.
    """

    feeds: list[FeedConfig] = msgspec.field(default_factory=list)
    on_error: Literal["skip", "fail"] = "skip"
    speed: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    base_dir: str = "."
    max_records: Annotated[int, msgspec.Meta(ge=0)] | None = None
    start: str | None = None
    end: str | None = None

    def __post_init__(self) -> None:
        start, end = self.start_ns, self.end_ns
        if start is not None and end is not None and end <= start:
            raise ValueError(f"end: must be after start ({self.start}), got {self.end!r}")
        seen: dict[str, int] = {}
        for index, feed in enumerate(self.feeds):
            name = feed.feed_name
            if name in seen:
                raise ValueError(
                    f"feeds[{index}].name: feed name {name!r} is already used by "
                    f"feeds[{seen[name]}]; set a distinct name"
                )
            seen[name] = index
        carried: dict[str, int] = {}
        for index, feed in enumerate(self.feeds):
            for symbol in feed.live_symbols:
                # Venues send symbols upper-case whatever the subscription said.
                other = carried.setdefault(symbol.upper(), index)
                if other != index:
                    raise ValueError(
                        f"feeds[{index}].{feed.format}.symbols: {symbol!r} also comes from "
                        f"feeds[{other}]; each symbol may come from one live feed only"
                    )

    @property
    def start_ns(self) -> int | None:
        """:attr:`start` in nanoseconds since the Unix epoch (``None``: from the first record)."""
        return None if self.start is None else _window_ns("start", self.start)

    @property
    def end_ns(self) -> int | None:
        """:attr:`end` in nanoseconds since the Unix epoch (``None``: to the last record)."""
        return None if self.end is None else _window_ns("end", self.end)

    def check_replayable(self) -> None:
        """Refuse live feeds, which produce data as it happens and so cannot be replayed.

        Raises
        ------
        ValueError
            ``feeds[i].format: ...`` naming the first live feed and what to do instead.
        """
        for index, feed in enumerate(self.feeds):
            if feed.is_live:
                raise ValueError(
                    f"feeds[{index}].format: {feed.format!r} is a live feed and cannot be "
                    "replayed; record it with `atrium run` and replay the journal"
                )
