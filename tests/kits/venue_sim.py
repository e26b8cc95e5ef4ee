"""A local Binance spot venue for tests: the REST subset ccxt's ``binance`` uses.

It serves markets, balances, orders (create, cancel, fetch one, fetch open) and the
account's trades, keyed by ``clientOrderId`` the way Binance is, so a resend with the
same client id is refused as a duplicate. Tests drive it: :meth:`VenueSim.fill` executes
part or all of a resting order, :meth:`VenueSim.fail_next` answers the next requests
with an HTTP status (429, 418, 503...), ``create_fault`` loses every new order with
one, ``delay`` slows every answer past a client's timeout, ``duplicate_trades`` repeats
every trade update out of order, ``hidden_trades`` keeps the newest trades out of the
trade list for a while (a venue whose order status runs ahead of its trades),
``fee_asset`` charges each trade ``fee_in_asset`` of another asset (a BNB
discount), ``/api/v3/ticker/24hr`` quotes ``market_price`` (else the last trade's price), ``hold_creates`` books a new order but never answers its request (an order in flight
when the client dies), ``hold_tickers`` leaves the ticker requests of those symbols unanswered while
they are held (a client stopped while it values a fee). Real ccxt talks to
it (``[execution.ccxt].base_url``); nothing of ccxt is mocked. :class:`SimThread` serves it
from a thread of its own, for tests that run Atrium as processes.

The user-data stream is the subset ccxt.pro's ``binance`` uses for spot: the WebSocket
API at ``/ws-api/v3`` takes ``userDataStream.subscribe.signature`` and then pushes an
``executionReport`` for every order change (new, each trade, cancelled, expired).
:meth:`VenueSim.drop_streams` closes every stream from the server's side, ``silent``
keeps them open but sends nothing (no reports, no pongs: what happens meanwhile is lost
to the stream), ``duplicate_reports`` sends every report twice, the copy after the next
one (duplicated, and out of order).

The public trade stream is the one ccxt.pro's ``binance`` uses for ``watch_trades``: a
WebSocket at ``/ws/<n>`` that takes ``{"method": "SUBSCRIBE", "params":
["btcusdt@trade"], "id": n}`` and then pushes a raw ``{"e": "trade", ...}`` for every
:meth:`VenueSim.push_trade` of a subscribed symbol (:meth:`VenueSim.push_raw` pushes any
payload). :meth:`VenueSim.drop_trade_streams` closes them from the server's side,
``silent`` holds their trades and pongs too, and ``resend_trades`` sends each new
subscription the last that many trades again (a venue that replays on reconnect).
``/api/v3/aggTrades`` (``fetch_trades``) lists the same trades, one aggregate each.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

__all__ = ("SimOrder", "SimThread", "VenueSim", "serving", "trading_toml")


@dataclass
class SimOrder:
    """One order as the venue holds it."""

    order_id: int
    client_id: str
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None
    time_in_force: str
    status: str = "NEW"
    executed: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    time: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_id,
            "transactTime": self.time,
            "time": self.time,
            "updateTime": self.time,
            "price": str(self.price or 0),
            "origQty": str(self.quantity),
            "executedQty": str(self.executed),
            "cummulativeQuoteQty": str(self.quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.order_type,
            "side": self.side,
            "isWorking": True,
            "fills": [],
        }


@dataclass
class _Market:
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal


@dataclass
class VenueSim:
    """The venue's state and the aiohttp app that serves it."""

    balances: dict[str, Decimal] = field(default_factory=dict)
    market_price: dict[str, Decimal] = field(default_factory=dict)
    commission_rate: Decimal = Decimal("0.001")
    delay: float = 0.0
    create_fault: int | None = None
    duplicate_trades: bool = False
    hidden_trades: int = 0
    hold_creates: bool = False
    hold_tickers: set[str] = field(default_factory=set)
    silent: bool = False
    duplicate_reports: bool = False
    fee_asset: str | None = None
    fee_in_asset: Decimal = Decimal("0.0005")
    markets: dict[str, _Market] = field(default_factory=dict)
    orders: dict[str, SimOrder] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    _faults: list[int] = field(default_factory=list)
    _streams: dict[web.WebSocketResponse, asyncio.Queue[dict[str, Any]]] = field(
        default_factory=dict
    )
    resend_trades: int = 0
    public_trades: list[dict[str, Any]] = field(default_factory=list)
    _trade_streams: dict[web.WebSocketResponse, tuple[set[str], asyncio.Queue[Any]]] = field(
        default_factory=dict
    )
    _held_report: dict[str, Any] | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))
    _clock_ms: int = 1_700_000_000_000

    def add_market(
        self,
        base: str,
        quote: str,
        *,
        tick: str = "0.01",
        step: str = "0.001",
        min_qty: str = "0.001",
        min_notional: str = "10",
    ) -> None:
        self.markets[base + quote] = _Market(
            base, quote, Decimal(tick), Decimal(step), Decimal(min_qty), Decimal(min_notional)
        )

    def fail_next(self, count: int, status: int) -> None:
        """Answer the next ``count`` requests with HTTP ``status`` instead of serving them."""
        self._faults.extend([status] * count)

    def order(self, client_id: str) -> SimOrder:
        return self.orders[client_id]

    def fill(self, client_id: str, quantity: str, price: str) -> None:
        """Execute ``quantity`` of a working order at ``price`` (a partial or the rest)."""
        order = self.orders[client_id]
        qty, px = Decimal(quantity), Decimal(price)
        if order.status not in ("NEW", "PARTIALLY_FILLED") or qty > order.quantity - order.executed:
            raise ValueError(f"cannot fill {qty} of {client_id} ({order.status})")
        order.executed += qty
        order.quote += qty * px
        order.status = "FILLED" if order.executed == order.quantity else "PARTIALLY_FILLED"
        market = self.markets[order.symbol]
        self._book_trade(order, market, qty, px)
        self._report(order, "TRADE", self.trades[-1])

    def expire(self, client_id: str) -> None:
        self.orders[client_id].status = "EXPIRED"
        self._report(self.orders[client_id], "EXPIRED")

    def _book_trade(self, order: SimOrder, market: _Market, qty: Decimal, px: Decimal) -> None:
        self._clock_ms += 1
        fee = (qty * px * self.commission_rate).quantize(Decimal("0.00000001"))
        fee_asset = market.quote
        if self.fee_asset is not None:
            fee, fee_asset = self.fee_in_asset, self.fee_asset
        sign = 1 if order.side == "BUY" else -1
        self.balances[market.base] = self.balances.get(market.base, Decimal(0)) + sign * qty
        self.balances[market.quote] = self.balances.get(market.quote, Decimal(0)) - sign * qty * px
        self.balances[fee_asset] = self.balances.get(fee_asset, Decimal(0)) - fee
        self.trades.append(
            {
                "symbol": order.symbol,
                "id": len(self.trades) + 1,
                "orderId": order.order_id,
                "orderListId": -1,
                "price": str(px),
                "qty": str(qty),
                "quoteQty": str(qty * px),
                "commission": str(fee),
                "commissionAsset": fee_asset,
                "time": self._clock_ms,
                "isBuyer": order.side == "BUY",
                "isMaker": order.order_type == "LIMIT",
                "isBestMatch": True,
            }
        )

    # -- the app -------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/api/v3/exchangeInfo", self._exchange_info)
        app.router.add_get("/api/v3/time", self._time)
        app.router.add_get("/api/v3/account", self._account)
        app.router.add_post("/api/v3/order", self._create)
        app.router.add_delete("/api/v3/order", self._cancel)
        app.router.add_get("/api/v3/order", self._fetch)
        app.router.add_get("/api/v3/openOrders", self._open_orders)
        app.router.add_get("/api/v3/myTrades", self._my_trades)
        app.router.add_get("/api/v3/ticker/24hr", self._ticker)
        app.router.add_get("/api/v3/aggTrades", self._agg_trades)
        app.router.add_get("/ws-api/v3", self._stream)
        app.router.add_get("/ws/{stream}", self._trade_stream)
        return app

    # -- the user-data stream ------------------------------------------------------------

    async def drop_streams(self) -> None:
        """Close every user-data stream from the server's side (nothing more is pushed)."""
        for ws in list(self._streams):
            del self._streams[ws]
            await ws.close()

    @property
    def streams(self) -> int:
        """User-data streams subscribed now."""
        return len(self._streams)

    # -- the public trade stream ---------------------------------------------------------

    @property
    def trade_streams(self) -> int:
        """Public trade streams with a subscription now."""
        return sum(1 for symbols, _ in self._trade_streams.values() if symbols)

    def push_trade(
        self, symbol: str, price: str, qty: str, *, trade_id: int | None = None, time: int = 0
    ) -> dict[str, Any]:
        """A public trade of ``symbol`` (``BTCUSDT``) to its subscribers; ids count from 1."""
        self._clock_ms += 1
        trade = {
            "e": "trade", "E": self._clock_ms, "s": symbol,
            "t": trade_id if trade_id is not None else len(self.public_trades) + 1,
            "p": price, "q": qty, "T": time or self._clock_ms, "m": False, "M": True,
        }  # fmt: skip
        self.push_raw(trade)
        return trade

    def push_raw(self, payload: dict[str, Any]) -> None:
        """Any payload to the subscribers of its ``s`` (and it is kept for resends)."""
        self.public_trades.append(payload)
        if self.silent:
            return
        stream = f"{str(payload.get('s')).lower()}@trade"
        for symbols, queue in self._trade_streams.values():
            if stream in symbols:
                queue.put_nowait(payload)

    async def drop_trade_streams(self) -> None:
        """Close every public trade stream from the server's side."""
        for ws in list(self._trade_streams):
            del self._trade_streams[ws]
            await ws.close()

    async def _trade_stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        symbols: set[str] = set()
        self._trade_streams[ws] = (symbols, queue)
        sender = asyncio.get_running_loop().create_task(_send_all(ws, queue))
        try:
            async for message in ws:
                if message.type == WSMsgType.PING and not self.silent:
                    await ws.pong(message.data)
                elif message.type == WSMsgType.TEXT:
                    request_json = message.json()
                    params = request_json["params"]
                    symbols.update(params)
                    queue.put_nowait({"result": None, "id": request_json["id"]})
                    resend = self.public_trades[-self.resend_trades :] if self.resend_trades else []
                    for trade in resend:
                        if f"{str(trade.get('s')).lower()}@trade" in params:
                            queue.put_nowait(trade)
        finally:
            self._trade_streams.pop(ws, None)
            sender.cancel()
        return ws

    def _report(self, order: SimOrder, execution: str, trade: dict[str, Any] | None = None) -> None:
        """Push an ``executionReport`` of ``order`` to every subscribed stream."""
        report = _execution_report(order, execution, trade, self._clock_ms)
        reports = [report]
        if self.duplicate_reports:  # this one twice; the held copy of the last after it
            reports = [report] if self._held_report is None else [report, self._held_report]
            self._held_report = report
        if self.silent:
            return
        for queue in self._streams.values():
            for item in reports:
                queue.put_nowait({"subscriptionId": 0, "event": item})

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        sender = asyncio.get_running_loop().create_task(_send_all(ws, queue))
        try:
            async for message in ws:
                if message.type == WSMsgType.PING and not self.silent:
                    await ws.pong(message.data)
                elif message.type == WSMsgType.TEXT:
                    request_id = message.json()["id"]
                    self._streams[ws] = queue
                    queue.put_nowait({"id": request_id, "status": 200,
                                      "result": {"subscriptionId": 0}})  # fmt: skip
        finally:
            self._streams.pop(ws, None)
            sender.cancel()
        return ws

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self._faults:
            status = self._faults.pop(0)
            code = -1003 if status in (418, 429) else -1001
            return web.json_response({"code": code, "msg": f"simulated {status}"}, status=status)
        return await handler(request)

    async def _params(self, request: web.Request) -> dict[str, str]:
        params = dict(request.query)
        if request.body_exists:
            params.update({k: str(v) for k, v in (await request.post()).items()})
        return params

    async def _time(self, _request: web.Request) -> web.Response:
        return web.json_response({"serverTime": self._clock_ms})

    async def _exchange_info(self, _request: web.Request) -> web.Response:
        symbols = [_symbol_json(name, market) for name, market in self.markets.items()]
        return web.json_response(
            {"timezone": "UTC", "serverTime": self._clock_ms, "rateLimits": [], "symbols": symbols}
        )

    async def _account(self, _request: web.Request) -> web.Response:
        balances = [
            {"asset": asset, "free": str(amount), "locked": "0"}
            for asset, amount in self.balances.items()
        ]
        return web.json_response(
            {"makerCommission": 10, "takerCommission": 10, "canTrade": True,
             "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"]}
        )  # fmt: skip

    async def _create(self, request: web.Request) -> web.Response:
        if self.create_fault is not None:  # lost on the way: nothing booked
            return web.json_response({"code": -1001, "msg": "simulated"}, status=self.create_fault)
        p = await self._params(request)
        client_id = p["newClientOrderId"]
        if client_id in self.orders:
            return _error(-2010, "Duplicate order sent.")
        market = self.markets.get(p["symbol"])
        if market is None:
            return _error(-1121, "Invalid symbol.")
        self._clock_ms += 1
        order = SimOrder(
            order_id=next(self._ids),
            client_id=client_id,
            symbol=p["symbol"],
            side=p["side"],
            order_type=p["type"],
            quantity=Decimal(p["quantity"]),
            price=Decimal(p["price"]) if "price" in p else None,
            time_in_force=p.get("timeInForce", "GTC"),
            time=self._clock_ms,
        )
        self.orders[client_id] = order
        self.created.append(client_id)
        self._report(order, "NEW")
        price = self.market_price.get(order.symbol)
        if order.order_type == "MARKET" and price is not None:
            self.fill(client_id, str(order.quantity), str(price))
        while self.hold_creates:  # booked, never answered
            await asyncio.sleep(0.05)
        return web.json_response(order.as_json())

    def _find(self, p: dict[str, str]) -> SimOrder | None:
        if "origClientOrderId" in p:
            return self.orders.get(p["origClientOrderId"])
        wanted = int(p.get("orderId", "0"))
        return next((o for o in self.orders.values() if o.order_id == wanted), None)

    async def _cancel(self, request: web.Request) -> web.Response:
        order = self._find(await self._params(request))
        if order is None or order.status not in ("NEW", "PARTIALLY_FILLED"):
            return _error(-2011, "Unknown order sent.")
        order.status = "CANCELED"
        self._report(order, "CANCELED")
        return web.json_response(order.as_json())

    async def _fetch(self, request: web.Request) -> web.Response:
        order = self._find(await self._params(request))
        if order is None:
            return _error(-2013, "Order does not exist.")
        return web.json_response(order.as_json())

    async def _open_orders(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol")
        return web.json_response(
            [
                o.as_json()
                for o in self.orders.values()
                if o.status in ("NEW", "PARTIALLY_FILLED") and symbol in (None, o.symbol)
            ]
        )

    async def _my_trades(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol")
        since = int(request.query.get("startTime", "0"))
        shown = self.trades[: len(self.trades) - self.hidden_trades]
        trades = [t for t in shown if t["symbol"] == symbol and t["time"] >= since]
        if self.duplicate_trades:  # every update twice, the copies out of order
            trades = trades + trades[::-1]
        return web.json_response(trades)

    async def _agg_trades(self, request: web.Request) -> web.Response:
        """The last 500 public trades of ``symbol``, each its own aggregate (``fetch_trades``)."""
        symbol = request.query.get("symbol")
        shown = [t for t in self.public_trades if t.get("s") == symbol][-500:]
        return web.json_response(
            [{"a": t.get("t"), "p": t.get("p"), "q": t.get("q"), "f": t.get("t"),
              "l": t.get("t"), "T": t.get("T"), "m": False, "M": True} for t in shown]
        )  # fmt: skip

    async def _ticker(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "")
        while symbol in self.hold_tickers:  # unanswered while held
            await asyncio.sleep(0.05)
        price = self.market_price.get(symbol)
        traded = [t["price"] for t in self.trades if t["symbol"] == symbol]
        if price is None and traded:  # no quote set: the last trade's price
            price = Decimal(traded[-1])
        if price is None:
            return _error(-1121, "Invalid symbol.")
        return web.json_response(
            {"symbol": symbol, "lastPrice": str(price), "bidPrice": str(price),
             "askPrice": str(price), "closeTime": self._clock_ms}
        )  # fmt: skip


async def _send_all(ws: web.WebSocketResponse, queue: asyncio.Queue[Any]) -> None:
    while True:
        await ws.send_json(await queue.get())


def _execution_report(
    order: SimOrder, execution: str, trade: dict[str, Any] | None, now_ms: int
) -> dict[str, Any]:
    return {
        "e": "executionReport", "E": now_ms, "s": order.symbol, "c": order.client_id,
        "S": order.side, "o": order.order_type, "f": order.time_in_force,
        "q": str(order.quantity), "p": str(order.price or 0), "P": "0", "F": "0", "g": -1,
        "C": "", "x": execution, "X": order.status, "r": "NONE", "i": order.order_id,
        "l": trade["qty"] if trade else "0", "z": str(order.executed),
        "L": trade["price"] if trade else "0",
        "n": trade["commission"] if trade else "0",
        "N": trade["commissionAsset"] if trade else None,
        "T": trade["time"] if trade else now_ms, "t": trade["id"] if trade else -1,
        "I": 1, "w": order.status in ("NEW", "PARTIALLY_FILLED"),
        "m": bool(trade and trade["isMaker"]), "M": False, "O": order.time,
        "Z": str(order.quote), "Y": "0", "Q": "0",
    }  # fmt: skip


def _error(code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "msg": message}, status=400)


def _symbol_json(name: str, market: _Market) -> dict[str, Any]:
    return {
        "symbol": name,
        "status": "TRADING",
        "baseAsset": market.base,
        "baseAssetPrecision": 8,
        "quoteAsset": market.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "MARKET"],
        "icebergAllowed": False,
        "ocoAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "permissions": ["SPOT"],
        "permissionSets": [["SPOT"]],
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": str(market.tick),
             "maxPrice": "1000000", "tickSize": str(market.tick)},
            {"filterType": "LOT_SIZE", "minQty": str(market.min_qty),
             "maxQty": "9000", "stepSize": str(market.step)},
            {"filterType": "NOTIONAL", "minNotional": str(market.min_notional),
             "applyMinToMarket": True, "maxNotional": "9000000", "applyMaxToMarket": False,
             "avgPriceMins": 5},
        ],
    }  # fmt: skip


class SimThread:
    """The simulator's aiohttp app on its own event loop in a thread."""

    def __init__(self, venue: VenueSim) -> None:
        self.venue = venue
        self.loop = asyncio.new_event_loop()
        self.url = ""
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> SimThread:
        self._thread.start()
        assert self._ready.wait(10), "the simulator did not start"
        return self

    def __exit__(self, *_: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def call(self, function: Any, *args: Any) -> None:
        """Run ``function`` on the simulator's loop (its state is not shared across threads)."""
        done = threading.Event()

        def run() -> None:
            function(*args)
            done.set()

        self.loop.call_soon_threadsafe(run)
        assert done.wait(5)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        runner = web.AppRunner(self.venue.app())
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        self._ready.set()
        self.loop.run_forever()


def trading_toml(venue_url: str) -> str:
    """Config sections of a session trading BTC/USDT on the simulator at ``venue_url``:
    synthetic ticks (400/s, 1 s bars), a 2/3 EMA cross buying 1, and the ccxt venue."""
    return f"""
[[market_data.feeds]]
format = "synthetic_live"
bar_seconds = 1
synthetic_live = {{ seed = 3, symbols = ["BTC/USDT"], rate_per_second = 400.0, volatility = 3.0 }}

[strategies.cross]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["BTC/USDT"]
params = {{ fast = 2, slow = 3, allow_short = false }}

[portfolio.strategy_budgets.cross]
capital_pct = 0.5
fixed_qty = 1

[risk]
price_band_pct = 0.5

[execution]
venue = "ccxt"

[execution.ccxt]
exchange = "binance"
base_url = "{venue_url}"
symbols = ["BTC/USDT"]
poll_interval_s = 30.0
request_timeout_s = 60.0
"""


@asynccontextmanager
async def serving(venue: VenueSim) -> AsyncIterator[str]:
    """Serve ``venue`` on a free loopback port in this event loop; yields its URL."""
    runner = web.AppRunner(venue.app())
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
