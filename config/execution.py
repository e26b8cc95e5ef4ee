"""`[execution]`: which venue the execution actor trades on, and how the paper venue fills.

msgspec cannot put numeric bounds on ``Decimal`` fields, so the bounds of the money
settings are checked in ``__post_init__``; the loader reports them as
``execution: slippage_bps: expected a number >= 0 and < 10000, got -1``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final, Literal

import msgspec

from atrium.config.base import ConfigBase
from atrium.config.instruments import InstrumentConfig

__all__ = ("CcxtVenueConfig", "ExecutionConfig", "MarketFill")

MarketFill = Literal["next_open", "current_close"]

_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_MAX_SLIPPAGE_BPS: Final = Decimal(10_000)
_ADAPTER_PATH: Final = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


_ENV_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CcxtVenueConfig(ConfigBase, frozen=True, kw_only=True):
    """``[execution.ccxt]``: the exchange the ccxt venue trades on.

    Credentials never sit in the TOML: the config names the environment variables that
    hold them, and the adapter reads those at connect time.

    Parameters
    ----------
    exchange : str
        A ccxt exchange id, e.g. ``"binance"``.
    symbols : list of str, default []
        The ccxt symbols traded (``"BTC/USDT"``): their instrument rules are published on
        connect, and their trades are read on reconciliation.
    sandbox : bool, default False
        Trade on the exchange's test environment (ccxt ``set_sandbox_mode``).
    api_key_env, secret_env : str, default "ATRIUM_CCXT_API_KEY", "ATRIUM_CCXT_SECRET"
        Names of the environment variables holding the API key and secret.
    base_url : str or None, default None
        Send every REST call to this origin instead of the exchange's (a simulator or a
        proxy); None uses the exchange's own URLs.
    poll_interval_s : float, default 1.0
        Seconds between polls of open orders and trades (with ``order_updates =
        "websocket"``: while the stream is down).
    order_updates : {"polling", "websocket"}, default "polling"
        How order states and fills reach Atrium. ``polling``: REST every
        ``poll_interval_s``. ``websocket``: the venue's user-data stream (ccxt.pro
        ``watch_orders`` and ``watch_my_trades``) drives them; REST still checks every
        ``check_interval_s`` while the stream is up (and every ``poll_interval_s`` while it
        is down), so what a stream misses is booked anyway, once (by venue trade id). A
        stream that drops is resubscribed, backing off from ``poll_interval_s`` up to 30 s,
        then reconciled over REST; each drop counts in ``atrium_venue_errors_total`` as
        ``websocket``. The exchange must have ``watchOrders`` in ccxt.pro.
    check_interval_s : float, default 30.0
        With ``order_updates = "websocket"``: seconds between REST checks while the stream
        is up.
    stale_after_s : float, default 60.0
        With ``order_updates = "websocket"``: a stream that delivers nothing (no report, no
        pong to the pings ccxt sends every third of this) for this long counts as dropped
        (kind ``stale``): it is closed, resubscribed and reconciled.
    request_timeout_s : float, default 10.0
        Seconds before one REST call counts as timed out.
    ack_timeout_s : float, default 10.0
        An order the venue still does not know after this many seconds is rejected with
        ``ACK_TIMEOUT`` (it was never placed).
    unvalued_fee : {"book_separately", "halt"}, default "book_separately"
        A fee charged in a third currency the venue quotes no price for (BNB without a
        BNB market in the quote currency) is never booked as commission at a guessed
        value: it is counted in ``atrium_unvalued_fees_total{currency}`` and logged, and
        the fill's commission is 0; ``halt`` also halts execution (every open order
        cancelled, new ones rejected) until an operator resumes.
    start_retry_s : float, default 300.0
        A venue unreachable at start (network errors, timeouts, HTTP 429/418/5xx while
        loading markets or reconciling) is asked again, backing off from
        ``poll_interval_s`` and doubling up to 30 s, for at most this many seconds (each
        attempt logged, ``/readyz`` 503 meanwhile); then the start stops naming the venue.
    on_disconnect : {"continue", "halt", "reduce_only"}, default "continue"
        ``halt``: when the session goes down (``atrium_venue_connected`` 0) execution
        halts: new orders are rejected ``TRADING_HALTED`` until an operator resumes, so
        none queues up to be sent at stale prices when the venue comes back; open orders
        stay at the venue (a cancel could not reach it). ``reduce_only``: while the
        session is down execution rejects every order that does not reduce a position
        (``VENUE_DOWN_REDUCE_ONLY``); orders that reduce one are sent, retried until the
        venue answers; the session coming back lifts it, no operator needed.
    """

    exchange: str
    symbols: list[str] = msgspec.field(default_factory=list)
    sandbox: bool = False
    api_key_env: str = "ATRIUM_CCXT_API_KEY"
    secret_env: str = "ATRIUM_CCXT_SECRET"
    base_url: str | None = None
    poll_interval_s: float = 1.0
    order_updates: Literal["polling", "websocket"] = "polling"
    check_interval_s: float = 30.0
    stale_after_s: float = 60.0
    request_timeout_s: float = 10.0
    ack_timeout_s: float = 10.0
    start_retry_s: float = 300.0
    unvalued_fee: Literal["book_separately", "halt"] = "book_separately"
    on_disconnect: Literal["continue", "halt", "reduce_only"] = "continue"

    def __post_init__(self) -> None:
        if not re.match(r"^[a-z0-9_]+$", self.exchange):
            raise ValueError(
                f"exchange: expected a ccxt exchange id such as 'binance', got {self.exchange!r}"
            )
        for key in ("api_key_env", "secret_env"):
            name: str = getattr(self, key)
            if not _ENV_NAME.match(name):
                raise ValueError(f"{key}: expected an environment variable name, got {name!r}")
        for key in (
            "poll_interval_s",
            "check_interval_s",
            "stale_after_s",
            "request_timeout_s",
            "ack_timeout_s",
            "start_retry_s",
        ):
            seconds: float = getattr(self, key)
            if not seconds > 0:
                raise ValueError(f"{key}: expected a number of seconds > 0, got {seconds}")


class ExecutionConfig(ConfigBase, frozen=True, kw_only=True):
    """Settings of the execution actor and of the paper venue.

    The paper settings (everything after ``venue_options``) apply only when
    ``venue = "paper"``; a live adapter fills at whatever its venue does.

    Parameters
    ----------
    venue : str, default "paper"
        ``"paper"`` for the simulated venue, ``"ccxt"`` for an exchange through ccxt
        (settings in ``ccxt``), or ``"module:Class"`` of a venue adapter
        (see ``atrium.actors.execution.adapter.VenueAdapter``), called as
        ``Class(config, sink)``.
    venue_options : dict of str to str, default {}
        Free-form settings handed to a venue adapter through this config; the paper venue
        ignores them. Keep secrets out of config files: adapters read them from the
        environment.
    ccxt : CcxtVenueConfig or None, default None
        ``[execution.ccxt]``; required when ``venue = "ccxt"``.
    market_fill : {"next_open", "current_close"}, default "next_open"
        Where a paper MARKET order fills. ``next_open``: at the open of the first bar after
        the order (no look-ahead). ``current_close``: at once, at the last close (or last
        tick price) of its symbol, which assumes the decision and the fill happen at the
        same closing print.
    slippage_bps : Decimal, default 0
        Adverse slippage in basis points applied to every paper fill price: BUY pays
        ``price * (1 + bps/10000)``, SELL receives ``price * (1 - bps/10000)``. A LIMIT
        fill never crosses its limit price. Must be >= 0 and < 10000.
    commission_per_share : Decimal, default 0
        Commission per unit of quantity filled.
    commission_bps : Decimal, default 0
        Commission in basis points of the filled notional (quantity x fill price).
    commission_min : Decimal, default 0
        Minimum commission per order: an order's total commission is
        ``max(commission_min, per_share * quantity + bps/10000 * notional)`` over all its
        fills, the first fill paying at least the minimum.
    max_volume_participation : Decimal or None, default None (off)
        Largest fraction of a bar's volume (a tick's size) the paper venue fills, shared by
        every order of that symbol in submission order; the rest carries to later bars as
        partial fills. In (0, 1].
    lot_size : Decimal, default 1
        Order quantities must be whole multiples of this (else the order is REJECTED with
        ``QUANTITY_NOT_LOT_MULTIPLE``); capped partial fills are rounded down to it. Set
        e.g. ``0.0001`` for fractional instruments.
    price_increment : Decimal or None, default None (off)
        Tick size. When set, LIMIT and STOP prices must be multiples of it (else
        ``PRICE_NOT_ON_INCREMENT``) and fill prices are rounded against the trader: BUY up,
        SELL down (never below one increment), so rounding never flatters a backtest.
    instruments : table of InstrumentConfig, default {}
        The root ``[instruments]`` table, copied here by the loader: a symbol's
        ``tick_size`` replaces ``price_increment`` for it, and ``commission_bps`` is
        charged on ``quantity * price * multiplier``.
    """

    venue: str = "paper"
    venue_options: dict[str, str] = msgspec.field(default_factory=dict)
    ccxt: CcxtVenueConfig | None = None
    market_fill: MarketFill = "next_open"
    slippage_bps: Decimal = _ZERO
    commission_per_share: Decimal = _ZERO
    commission_bps: Decimal = _ZERO
    commission_min: Decimal = _ZERO
    max_volume_participation: Decimal | None = None
    lot_size: Decimal = _ONE
    price_increment: Decimal | None = None
    instruments: dict[str, InstrumentConfig] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.venue not in ("paper", "ccxt") and not _ADAPTER_PATH.match(self.venue):
            raise ValueError(
                f"venue: expected 'paper', 'ccxt' or 'module:Class', got {self.venue!r}"
            )
        if self.venue == "ccxt" and self.ccxt is None:
            raise ValueError(
                "ccxt: venue = 'ccxt' needs an [execution.ccxt] table with exchange = '<ccxt id>'"
            )
        slippage = self.slippage_bps
        if not slippage.is_finite() or not _ZERO <= slippage < _MAX_SLIPPAGE_BPS:
            raise ValueError(f"slippage_bps: expected a number >= 0 and < 10000, got {slippage}")
        for key in ("commission_per_share", "commission_bps", "commission_min"):
            value: Decimal = getattr(self, key)
            if not value.is_finite() or value < _ZERO:
                raise ValueError(f"{key}: expected a number >= 0, got {value}")
        cap = self.max_volume_participation
        if cap is not None and (not cap.is_finite() or not _ZERO < cap <= _ONE):
            raise ValueError(
                f"max_volume_participation: expected a number > 0 and <= 1 (or leave it out "
                f"for no cap), got {cap}"
            )
        if not self.lot_size.is_finite() or self.lot_size <= _ZERO:
            raise ValueError(f"lot_size: expected a number > 0, got {self.lot_size}")
        increment = self.price_increment
        if increment is not None and (not increment.is_finite() or increment <= _ZERO):
            raise ValueError(
                f"price_increment: expected a number > 0 (or leave it out for no rounding), "
                f"got {increment}"
            )
