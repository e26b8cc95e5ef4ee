"""A live feed of any exchange ccxt knows: its public trades as ``Tick``, exactly.

Where ccxt.pro can watch the exchange's trades (``watchTrades``) the feed streams them
over its websocket; otherwise (or with ``mode = "polling"``) it asks ``fetch_trades``
every ``poll_interval_seconds``. The exchange is built with ``number = str``
(:func:`~atrium.actors.market_data.ccxt_exchange.make_public_exchange`): ccxt then hands
prices and amounts over as the exchange's own decimal text, which becomes a ``Decimal``
as written; a trade whose price or amount is not text is refused, never read through a
float. Symbols map to markets as on the execution side
(:func:`~atrium.actors.market_data.ccxt_exchange.market_of`); ticks carry the symbol as
configured.

Each session (a subscription, or a run of polls) ends on a ccxt error (the stream
closed, the network, HTTP 429/5xx) or when no trade (no answer, polling) arrives for
``stale_after_seconds``; the next waits by :func:`~.live_websocket.backoff_delay`,
restarting from ``reconnect_initial_seconds`` after a session that brought a trade.
Trades pass the deduplicator of the WebSocket feed (by trade id when the exchange gives
a numeric one), so what a new session resends is dropped. A message counts in the
feed status as it arrives (websocket) or per answer (polling). Bad trades are counted
and logged under ``<feed> <symbol> trade <id>`` (a message ccxt cannot parse under
``<feed> message <n>``, the n-th of the feed) with the reason codes of
:mod:`~atrium.actors.market_data.validation` (``UNPARSEABLE``: a field missing or not
decimal text, or a message ccxt itself cannot parse; the price and size checks;
``OUT_OF_ORDER``). A poll answer ccxt cannot parse is one ``UNPARSEABLE`` and ends the
session (the next retries it after the backoff): ccxt parses an answer whole. The first
poll delivers the recent trades the exchange lists, the websocket only what happens
after the subscription.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import anyio
import ccxt.async_support as ccxt
import ccxt.pro as ccxt_pro

from atrium.actors.market_data.ccxt_exchange import make_public_exchange, market_of
from atrium.actors.market_data.live import Emit, FeedStatus
from atrium.actors.market_data.live_dedup import DedupedTradeFeed, Verdict
from atrium.actors.market_data.live_trades import Trade
from atrium.actors.market_data.live_websocket import backoff_delay
from atrium.actors.market_data.rejections import Rejections
from atrium.actors.market_data.validation import (
    OUT_OF_ORDER,
    UNPARSEABLE,
    Problem,
    format_ns,
    tick_problem,
)
from atrium.config.market_data import CcxtFeedConfig
from atrium.errors import AtriumError
from atrium.runtime.messages import Tick

__all__ = ("CcxtTradeFeed", "parse_trade")

_MS: Final = 1_000_000
#: What ccxt raises when an exchange's answer does not parse (not a ccxt error: a bug of
#: its parser meeting bad data, e.g. ``Precise("abc")``).
_PARSE_ERRORS: Final = (ValueError, TypeError, KeyError, ArithmeticError)


def _decimal(trade: dict[str, Any], key: str) -> Decimal | str:
    """Field ``key`` of a ccxt trade as a Decimal from its text, or the problem with it."""
    value = trade.get(key)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            pass
    return f"field {key}: expected decimal text, got {value!r}"


def parse_trade(trade: dict[str, Any], symbol: str) -> Trade | Problem:
    """A ccxt unified trade of Atrium ``symbol`` as a valid trade, or what is wrong."""
    price = _decimal(trade, "price")
    if isinstance(price, str):
        return UNPARSEABLE, price
    size = _decimal(trade, "amount")
    if isinstance(size, str):
        return UNPARSEABLE, size
    ms = trade.get("timestamp")
    if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
        return UNPARSEABLE, f"field timestamp: expected integer milliseconds, got {ms!r}"
    problem = tick_problem(price, size)
    if problem is not None:
        return problem
    trade_id = trade.get("id")
    numeric = int(trade_id) if isinstance(trade_id, str) and trade_id.isdigit() else None
    return Trade(symbol, ms * _MS, price, size, numeric)


class CcxtTradeFeed(DedupedTradeFeed):
    """Streams (or polls) the trades of ``config.symbols`` as ``Tick`` until cancelled.

    Parameters
    ----------
    config : CcxtFeedConfig
    name : str
        The feed's label in metrics and logs.
    status : FeedStatus
    rejections : Rejections
        Counts and logs bad trades.
    log : logging.Logger
    sleep : callable, optional
        The backoff wait (tests pass a recorder).
    """

    def __init__(
        self,
        config: CcxtFeedConfig,
        name: str,
        status: FeedStatus,
        rejections: Rejections,
        log: logging.Logger,
        *,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        super().__init__(config.symbols, name, status, rejections, log, sleep=sleep)
        self._config = config
        self._symbols: dict[str, str] = {}
        """Atrium symbol by ccxt unified symbol, once the markets are loaded."""

    async def run(self, emit: Emit) -> None:
        """Load the markets, then stream or poll, reconnecting with backoff, until cancelled."""
        config = self._config
        streaming = config.mode != "polling" and hasattr(ccxt_pro, config.exchange)
        try:
            exchange = make_public_exchange(
                config.exchange,
                streaming=streaming,
                sandbox=config.sandbox,
                base_url=config.base_url,
                timeout_s=config.request_timeout_seconds,
            )
        except ValueError as exc:
            raise AtriumError(f"market_data.feeds.ccxt.exchange: {exc}") from None
        watching = streaming and bool(exchange.has.get("watchTrades"))
        if config.mode == "websocket" and not watching:
            raise AtriumError(
                f"market_data.feeds.ccxt.mode: {config.exchange!r} cannot watch trades in "
                "ccxt.pro; set mode = 'polling'"
            )
        if watching:
            self._guard(exchange)
        try:
            await self._sessions(exchange, emit, watching)
        finally:
            with anyio.CancelScope(shield=True):
                await exchange.close()

    def _guard(self, exchange: Any) -> None:
        """Count and skip a message ccxt.pro cannot parse.

        ccxt.pro parses each message inside its receive loop, and an exception there ends
        the loop: the stream would hang until stale. The exchange's handler is wrapped on
        this instance only, so one bad trade costs that trade and nothing else.
        """
        handle = exchange.handle_message

        def guarded(client: Any, message: Any) -> None:
            self.status.received()  # as it arrives: the venue is talking
            try:
                handle(client, message)
            except _PARSE_ERRORS as exc:
                self._unparseable(exc)

        exchange.handle_message = guarded

    def _unparseable(self, exc: Exception) -> None:
        where = f"{self.name} message {self.status.messages}"
        problem = f"ccxt cannot parse it: {type(exc).__name__}: {exc}"
        self._rejections.reject(self.name, where, UNPARSEABLE, problem)

    async def _sessions(self, exchange: Any, emit: Emit, watching: bool) -> None:
        config = self._config
        attempt = 0
        while True:
            if await self._session(exchange, emit, watching):
                attempt = 0
            delay = backoff_delay(
                attempt, config.reconnect_initial_seconds, config.reconnect_max_seconds
            )
            attempt += 1
            self._log.warning("feed %s: reconnecting in %.3gs", self.name, delay)
            await self._sleep(delay)

    async def _session(self, exchange: Any, emit: Emit, watching: bool) -> bool:
        """One subscription (or run of polls) from start to loss; whether it brought a trade."""
        self._traded = False
        try:
            if not self._symbols:
                await exchange.load_markets()
                self._symbols = self._markets(exchange)
            self.status.opened()
            self._dedup.begin_connection()
            await (self._watch(exchange, emit) if watching else self._poll(exchange, emit))
        except ccxt.BaseError as exc:
            self._log.warning("feed %s: %s: %s", self.name, type(exc).__name__, exc)
        finally:
            self.status.closed()
            if watching:
                with anyio.CancelScope(shield=True):
                    await exchange.close_ws_clients()  # the next session dials afresh
        return self._traded

    def _markets(self, exchange: Any) -> dict[str, str]:
        try:
            return {
                market_of(exchange, symbol)["symbol"]: symbol for symbol in self._config.symbols
            }
        except ValueError as exc:
            raise AtriumError(str(exc)) from None

    async def _watch(self, exchange: Any, emit: Emit) -> None:
        """Follow the trade stream until it fails or goes stale."""
        unified = list(self._symbols)
        many = len(unified) > 1
        while True:
            trades: list[dict[str, Any]] | None = None
            # Only the wait is timed: emit runs the pipeline and must never be cut short.
            with anyio.move_on_after(self._config.stale_after_seconds):
                if many:
                    trades = await exchange.watch_trades_for_symbols(unified)
                else:
                    trades = await exchange.watch_trades(unified[0])
            if trades is None:
                self._stale()
                return
            await self._deliver(trades, emit)

    async def _poll(self, exchange: Any, emit: Emit) -> None:
        """Fetch every symbol's recent trades each interval until a fetch fails or hangs."""
        while True:
            for unified in self._symbols:
                trades: list[dict[str, Any]] | None = None
                with anyio.move_on_after(self._config.stale_after_seconds):
                    try:
                        trades = await exchange.fetch_trades(unified)
                    except _PARSE_ERRORS as exc:  # the whole answer is lost; retried later
                        self.status.received()
                        self._unparseable(exc)
                        return
                    self.status.received()
                if trades is None:
                    self._stale()
                    return
                await self._deliver(trades, emit)
            await anyio.sleep(self._config.poll_interval_seconds)

    def _stale(self) -> None:
        self._log.warning(
            "feed %s: nothing for %gs; the session is stale, reconnecting",
            self.name,
            self._config.stale_after_seconds,
        )

    async def _deliver(self, trades: list[dict[str, Any]], emit: Emit) -> None:
        for raw in trades:
            tick = self._on_trade(raw)
            if tick is not None:
                await emit(tick)

    def _on_trade(self, raw: dict[str, Any]) -> Tick | None:
        """The tick a ccxt trade makes, if any; a bad one is counted and logged."""
        symbol = self._symbols[raw["symbol"]]  # ccxt answers for the markets asked only
        parsed = parse_trade(raw, symbol)
        if not isinstance(parsed, Trade):
            self._reject(symbol, raw, *parsed)
            return None
        self._traded = True
        verdict = self._dedup.admit(symbol, parsed.ts, parsed.price, parsed.size, parsed.trade_id)
        if verdict is Verdict.NEW:
            return Tick(ts=parsed.ts, symbol=symbol, price=parsed.price, size=parsed.size)
        if verdict is Verdict.DUPLICATE:
            self.status.duplicate()
            return None
        problem = f"trade time {format_ns(parsed.ts)} is before one already delivered"
        self._reject(symbol, raw, OUT_OF_ORDER, problem)
        return None

    def _reject(self, symbol: str, raw: dict[str, Any], reason: str, problem: str) -> None:
        where = f"{self.name} {symbol} trade {raw.get('id')}"
        self._rejections.reject(self.name, where, reason, problem)
