"""The paper venue: deterministic matching of working orders against bars and ticks.

Pure apart from the events it hands to its sink: no clock, no randomness, no I/O. Orders
are matched per symbol in submission order.

When an order can fill
    Only against market data stamped strictly after the order was decided: the bar an
    order was decided on is never used to fill it. In a replay the clock follows the
    data, so that is ``print.ts > order.ts``, whatever order the mailbox lanes deliver
    them in. Live (``live=True``) an order carries wall time and a print the venue's
    time; comparing the two would make fills depend on the offset between the clocks
    (late or recorded data would never fill, data stamped ahead of the wall clock would
    fill on the print the order was decided on), and a replay of the recorded session
    would not reproduce them. Live, an order therefore fills only on prints stamped
    after the newest print the venue had seen when the order arrived (any print, before
    the first). The one exception is ``market_fill = "current_close"``, where a MARKET
    order fills at once at the last print of its symbol.

Fill price (a tick is treated as a bar with open = high = low = close = price)
    * MARKET, or a STOP already triggered: the bar's open (``next_open``) or close
      (``current_close``).
    * LIMIT BUY when ``low <= limit``: ``min(limit, open)`` (the open if it gapped through);
      LIMIT SELL when ``high >= limit``: ``max(limit, open)``. A touch counts as a fill.
    * STOP BUY triggers when ``high >= trigger`` and fills at ``max(trigger, open)``;
      STOP SELL when ``low <= trigger`` at ``min(trigger, open)``. Once triggered it stays a
      market order for any remainder.
    * Then slippage against the trader (BUY ``x (1 + bps/10000)``, SELL ``x (1 - bps/10000)``),
      rounding to the tick against the trader when set (the symbol's
      ``[instruments].tick_size``, else ``price_increment``), and finally a LIMIT
      fill is capped at its limit price (a venue never fills a limit worse than its limit).

Quantity
    The whole remainder, unless ``max_volume_participation`` is set: then each bar (tick)
    offers ``floor(cap x volume / lot_size) x lot_size``, shared by the symbol's orders in
    submission order; the rest waits for later bars. A bar with volume 0 fills nothing.

Commission
    ``per_share x qty + bps/10000 x notional`` per fill (``per_share`` is per contract;
    notional is ``qty x price x multiplier``), with ``commission_min`` per order:
    after each fill the order has paid ``max(min, cumulative raw commission)`` in total,
    so the first fill pays at least the minimum and later fills only the excess.

Time in force
    GTC: until filled or cancelled. DAY: lives through the UTC day of the first print it
    could fill on (for daily bars: the next session's bar) and EXPIREs on the first print
    of its symbol dated a later UTC day. IOC: gets exactly one matching opportunity (the
    first print it could fill on, or the immediate ``current_close`` fill); the unfilled
    remainder is then CANCELLED.

Rejection reason codes (``VenueRejected.reason``, ``CODE: key=value ...``)
    ``QUANTITY_NOT_LOT_MULTIPLE``: the quantity is not a whole multiple of ``lot_size``.
    ``PRICE_NOT_ON_INCREMENT``: a limit/trigger price is not a multiple of the tick
    (``price_increment``, or the symbol's ``tick_size``).
    ``INVALID_PRICE_FIELDS``: a price the order type does not use is set (a MARKET order
    with a limit or trigger price, a LIMIT with a trigger price, a STOP with a limit price:
    stop-limit orders are not supported, and silently ignoring the price would fill where
    the trader did not expect).

Cancel/expiry reason codes
    ``IOC_REMAINDER``: an IOC order's unfilled rest after its one opportunity.
    ``DAY_EXPIRED``: a DAY order outlived its UTC day. Cancels requested by the actor
    carry the actor's reason.

Unknown symbols are not rejected: the paper venue trades whatever the feed delivers, and
an order for a symbol without data waits (visible in :meth:`PaperVenue.order_status`).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any, Final, TypeAlias

from atrium.actors.execution.adapter import (
    EventSink,
    OrderStatusReport,
    VenueAccepted,
    VenueCancelled,
    VenueConnectionChanged,
    VenueExpired,
    VenueFilled,
    VenueRejected,
)
from atrium.config.execution import ExecutionConfig
from atrium.runtime.messages import Bar, Order, Tick
from atrium.runtime.snapshots import state_type

__all__ = ("PaperVenue",)

_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_NS_PER_DAY: Final = 86_400 * 1_000_000_000
_EPOCH: Final = date(1970, 1, 1)

Print: TypeAlias = Bar | Tick


@state_type
class _Working:
    """The venue's side of one working order."""

    __slots__ = (
        "after_ts",
        "charged_commission",
        "day",
        "fill_count",
        "filled",
        "order",
        "raw_commission",
        "remaining",
        "triggered",
    )

    def __init__(self, order: Order, after_ts: int | None) -> None:
        self.order = order
        # It fills only on prints stamped after this (None: any print).
        self.after_ts = after_ts
        self.remaining = order.quantity
        self.filled = _ZERO
        self.fill_count = 0
        self.triggered = False
        # UTC day number of the first print the order could fill on (DAY orders only).
        self.day: int | None = None
        self.raw_commission = _ZERO
        self.charged_commission = _ZERO


class PaperVenue:
    """A simulated venue implementing :class:`~actors.execution.adapter.SimulatedVenue`.

    Parameters
    ----------
    config : ExecutionConfig
        The ``[execution]`` section (fill mode, slippage, commission, caps, lot, tick).
    sink : callable
        Receives every venue event, synchronously, in the order they happen.
    live : bool, default False
        Orders carry wall time (``atrium run``): look-ahead is judged by the market time
        an order arrives at, not by ``order.ts`` (see the module docstring).
    """

    def __init__(self, config: ExecutionConfig, sink: EventSink, *, live: bool = False) -> None:
        self._sink = sink
        self._live = live
        self._next_open = config.market_fill == "next_open"
        slippage = config.slippage_bps.scaleb(-4)
        self._buy_factor = _ONE + slippage if slippage else None
        self._sell_factor = _ONE - slippage if slippage else None
        self._per_share = config.commission_per_share
        self._commission_rate = config.commission_bps.scaleb(-4)
        self._commission_min = config.commission_min
        self._cap = config.max_volume_participation
        self._lot = config.lot_size
        self._increment = config.price_increment
        # Per symbol from [instruments]: its own tick, and the bps rate on price (so the
        # rate times quantity times price is bps of price * multiplier * quantity).
        specs = config.instruments.items()
        self._ticks = {s: spec.tick_size for s, spec in specs if spec.tick_size is not None}
        self._rates = {
            s: self._commission_rate * spec.multiplier for s, spec in specs if spec.multiplier != 1
        }
        self._last: dict[str, Print] = {}
        # Stamp of the newest print seen, any symbol: the market time live orders arrive at.
        self._market_ts: int | None = None
        # Participation already used on a symbol's latest print (identity of the print).
        self._used: dict[str, tuple[Print, Decimal]] = {}
        self._working: dict[str, list[_Working]] = {}
        self._by_id: dict[str, _Working] = {}

    # -- snapshots -----------------------------------------------------------------------

    def snapshot_state(self) -> dict[str, Any]:
        """Working orders and the prints they match against (for the actor's snapshot)."""
        return {
            "last": self._last,
            "market_ts": self._market_ts,
            "used": self._used,
            "working": self._working,
            "by_id": self._by_id,  # the same objects: written once, shared again on load
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        self._last = state["last"]
        self._market_ts = state.get("market_ts")
        self._used = state["used"]
        self._working = state["working"]
        self._by_id = state["by_id"]

    # -- session -------------------------------------------------------------------------

    async def connect(self) -> None:
        self._sink(VenueConnectionChanged(connected=True, detail="paper venue"))

    async def reconnect(self) -> None:
        self._sink(VenueConnectionChanged(connected=True, detail="paper venue"))

    async def close(self) -> None:
        self._sink(VenueConnectionChanged(connected=False, detail="paper venue closed"))

    # -- orders --------------------------------------------------------------------------

    def submit(self, order: Order) -> None:
        """Accept or reject ``order``; a ``current_close`` MARKET order may fill at once."""
        order_id = order.order_id
        if order_id in self._by_id:
            raise ValueError(f"paper venue: order {order_id!r} was submitted twice")
        problem = self._rejection(order)
        if problem:
            self._sink(VenueRejected(order_id=order_id, reason=problem))
            return
        working = _Working(order, self._market_ts if self._live else order.ts)
        self._by_id[order_id] = working
        self._working.setdefault(order.symbol, []).append(working)
        self._sink(VenueAccepted(order_id=order_id))
        if order.order_type == "MARKET" and not self._next_open:
            last = self._last.get(order.symbol)
            if last is not None:
                self._opportunity(working, last, _close_of(last), _volume_of(last))

    def cancel(self, order_id: str, reason: str) -> None:
        """Cancel a working order; an order that is no longer working produces nothing."""
        working = self._by_id.get(order_id)
        if working is not None:
            self._retire(working)
            self._sink(VenueCancelled(order_id=order_id, reason=reason))

    def order_status(self) -> list[OrderStatusReport]:
        """Working orders with their filled quantities, in submission order."""
        return [
            OrderStatusReport(
                order_id=w.order.order_id,
                symbol=w.order.symbol,
                side=w.order.side,
                quantity=w.order.quantity,
                filled_quantity=w.filled,
                remaining_quantity=w.remaining,
                status="PARTIALLY_FILLED" if w.fill_count else "ACCEPTED",
            )
            for w in self._by_id.values()
        ]

    # -- market data (the hot path: no working order for the symbol = one dict update) ----

    def on_bar(self, bar: Bar) -> None:
        symbol = bar.symbol
        self._last[symbol] = bar
        if self._market_ts is None or bar.ts > self._market_ts:
            self._market_ts = bar.ts
        working = self._working.get(symbol)
        if working:
            self._match(
                bar,
                working,
                open_=bar.open,
                high=bar.high,
                low=bar.low,
                close=bar.close,
                volume=bar.volume,
            )

    def on_tick(self, tick: Tick) -> None:
        symbol = tick.symbol
        self._last[symbol] = tick
        if self._market_ts is None or tick.ts > self._market_ts:
            self._market_ts = tick.ts
        working = self._working.get(symbol)
        if working:
            price = tick.price
            self._match(
                tick,
                working,
                open_=price,
                high=price,
                low=price,
                close=price,
                volume=tick.size,
            )

    # -- matching ------------------------------------------------------------------------

    def _match(
        self,
        current: Print,
        working: list[_Working],
        *,
        open_: Decimal,
        high: Decimal,
        low: Decimal,
        close: Decimal,
        volume: Decimal,
    ) -> None:
        ts = current.ts
        day = ts // _NS_PER_DAY
        for w in list(working):
            order = w.order
            if w.after_ts is not None and ts <= w.after_ts:
                continue  # decided on this print or later: filling here is look-ahead
            if order.time_in_force == "DAY" and w.day is not None and day > w.day:
                self._retire(w)
                self._sink(
                    VenueExpired(
                        order_id=order.order_id,
                        reason=f"DAY_EXPIRED: day={_EPOCH + timedelta(days=w.day)} "
                        f"filled={w.filled} remaining={w.remaining}",
                    )
                )
                continue
            base = self._base_price(w, open_, high, low, close)
            self._opportunity(w, current, base, volume)

    def _opportunity(
        self, w: _Working, current: Print, base: Decimal | None, volume: Decimal
    ) -> None:
        """One chance for ``w`` to fill on ``current`` at ``base`` (None: not reached)."""
        if w.day is None:
            w.day = current.ts // _NS_PER_DAY
        if base is not None:
            self._fill(w, current, base, volume)
        if w.order.time_in_force == "IOC" and w.remaining:
            self._retire(w)
            self._sink(
                VenueCancelled(
                    order_id=w.order.order_id,
                    reason=f"IOC_REMAINDER: filled={w.filled} remaining={w.remaining}",
                )
            )

    def _base_price(
        self, w: _Working, open_: Decimal, high: Decimal, low: Decimal, close: Decimal
    ) -> Decimal | None:
        """The price before slippage at which ``w`` fills on this print, or None."""
        order = w.order
        if order.order_type == "MARKET" or w.triggered:
            return open_ if self._next_open else close
        buy = order.side == "BUY"
        if order.order_type == "LIMIT":
            limit = order.limit_price
            assert limit is not None  # Order validates it for LIMIT
            if buy:
                return min(limit, open_) if low <= limit else None
            return max(limit, open_) if high >= limit else None
        trigger = order.trigger_price
        assert trigger is not None  # Order validates it for STOP
        if buy and high >= trigger:
            w.triggered = True
            return max(trigger, open_)
        if not buy and low <= trigger:
            w.triggered = True
            return min(trigger, open_)
        return None

    def _fill(self, w: _Working, current: Print, base: Decimal, volume: Decimal) -> None:
        quantity = w.remaining
        if self._cap is not None:
            symbol = current.symbol
            offered = (self._cap * volume // self._lot) * self._lot
            used_entry = self._used.get(symbol)
            used = used_entry[1] if used_entry is not None and used_entry[0] is current else _ZERO
            quantity = min(quantity, offered - used)
            if quantity <= _ZERO:
                return
            self._used[symbol] = (current, used + quantity)
        price = _tidy(self._fill_price(w.order, base))
        rate = self._commission_rate
        if self._rates:
            rate = self._rates.get(w.order.symbol, rate)
        w.raw_commission += self._per_share * quantity + rate * quantity * price
        due = max(self._commission_min, w.raw_commission)
        commission = _tidy(due - w.charged_commission)
        w.charged_commission = due
        w.remaining -= quantity
        w.filled += quantity
        w.fill_count += 1
        order_id = w.order.order_id
        if not w.remaining:
            self._retire(w)
        self._sink(
            VenueFilled(
                order_id=order_id,
                quantity=quantity,
                price=price,
                commission=commission,
                venue_fill_id=f"{order_id}-{w.fill_count}",
            )
        )

    def _fill_price(self, order: Order, base: Decimal) -> Decimal:
        """Slippage, then tick rounding, both against the trader; LIMIT capped at its limit."""
        increment = self._tick(order.symbol)
        limit = order.limit_price if order.order_type == "LIMIT" else None
        if order.side == "BUY":
            price = base * self._buy_factor if self._buy_factor is not None else base
            if increment is not None:
                price = (price / increment).to_integral_value(ROUND_CEILING) * increment
            return min(price, limit) if limit is not None else price
        price = base * self._sell_factor if self._sell_factor is not None else base
        if increment is not None:
            # Never round a sell down to zero: one increment is the lowest tradable price.
            price = max((price / increment).to_integral_value(ROUND_FLOOR) * increment, increment)
        return max(price, limit) if limit is not None else price

    # -- helpers -------------------------------------------------------------------------

    def _rejection(self, order: Order) -> str:
        """The reason the venue refuses ``order``, or "" to accept it."""
        order_type = order.order_type
        stray = []
        if order.limit_price is not None and order_type != "LIMIT":
            stray.append(f"limit_price={order.limit_price}")
        if order.trigger_price is not None and order_type != "STOP":
            stray.append(f"trigger_price={order.trigger_price}")
        if stray:
            return f"INVALID_PRICE_FIELDS: order_type={order_type} {' '.join(stray)}"
        if not _is_multiple(order.quantity, self._lot):
            return f"QUANTITY_NOT_LOT_MULTIPLE: quantity={order.quantity} lot_size={self._lot}"
        increment = self._tick(order.symbol)
        if increment is not None:
            for name, price in (
                ("limit_price", order.limit_price),
                ("trigger_price", order.trigger_price),
            ):
                if price is not None and not _is_multiple(price, increment):
                    return f"PRICE_NOT_ON_INCREMENT: {name}={price} price_increment={increment}"
        return ""

    def _tick(self, symbol: str) -> Decimal | None:
        """The symbol's ``[instruments]`` tick size, else ``price_increment``."""
        return self._ticks.get(symbol, self._increment) if self._ticks else self._increment

    def _retire(self, w: _Working) -> None:
        order = w.order
        del self._by_id[order.order_id]
        working = self._working[order.symbol]
        working.remove(w)
        if not working:
            del self._working[order.symbol]


def _close_of(current: Print) -> Decimal:
    return current.close if isinstance(current, Bar) else current.price


def _volume_of(current: Print) -> Decimal:
    return current.volume if isinstance(current, Bar) else current.size


def _is_multiple(value: Decimal, step: Decimal) -> bool:
    try:
        return not value % step
    except InvalidOperation:  # quotient beyond the context precision: not a usable multiple
        return False


def _tidy(value: Decimal) -> Decimal:
    """Drop trailing zeros a product leaves (50.050000 -> 50.05), same value, no exponent."""
    normal = value.normalize()
    return normal.quantize(_ONE) if normal == normal.to_integral_value() else normal
