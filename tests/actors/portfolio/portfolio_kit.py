"""Builders shared by the portfolio tests: an actor on a recording bus, and messages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

from atrium.actors.portfolio import PortfolioActor
from atrium.actors.portfolio.caps import CapInputs, Exposure
from atrium.config.portfolio import PortfolioConfig
from atrium.runtime import ActorContext, Dispatcher, SimClock
from atrium.runtime.messages import (
    Bar,
    Fill,
    Message,
    OrderDenied,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    PortfolioSnapshot,
    PositionUpdate,
    Side,
    SizedOrder,
    Tick,
)

D = Decimal
M = TypeVar("M", bound=Message)

__all__ = (
    "D",
    "Harness",
    "cap_inputs",
)


class Harness:
    """A portfolio actor whose published messages are recorded in order."""

    def __init__(self, config: PortfolioConfig | None = None, **overrides: Any) -> None:
        if config is None:
            config = PortfolioConfig(**overrides)
        self.config = config
        self.clock = SimClock(1_000)
        self.dispatcher = Dispatcher()
        self.out: list[Message] = []
        self.dispatcher.add_tap(self.out.append)
        self.context = ActorContext(
            name="portfolio",
            config=config,
            clock=self.clock,
            dispatcher=self.dispatcher,
            mode="replay",
        )
        self.actor = PortfolioActor(self.context)
        self._intents = 0
        self._fills = 0

    def handle(self, message: Message) -> None:
        """Hand ``message`` to the actor as one input: what it defers runs after it."""
        self.actor.handle(message)
        self.dispatcher.run_after_settle()

    # -- recorded output -----------------------------------------------------------------

    def take(self) -> list[Message]:
        """Everything published since the last call."""
        out, self.out[:] = list(self.out), []
        return out

    def of(self, cls: type[M]) -> list[M]:
        return [message for message in self.out if isinstance(message, cls)]

    def last(self, cls: type[M]) -> M:
        found = self.of(cls)
        assert found, f"nothing of kind {cls.__name__} was published"
        return found[-1]

    # -- input -----------------------------------------------------------------------------

    def bar(
        self,
        symbol: str,
        close: Decimal | int | str,
        *,
        high: Decimal | int | str | None = None,
        low: Decimal | int | str | None = None,
    ) -> None:
        price = D(close)
        top = D(high) if high is not None else price
        bottom = D(low) if low is not None else price
        self.handle(
            Bar(
                ts=self.clock.now_ns(), symbol=symbol, open=price, high=top, low=bottom, close=price
            )
        )

    def tick(self, symbol: str, price: Decimal | int | str) -> None:
        self.handle(Tick(ts=self.clock.now_ns(), symbol=symbol, price=D(price), size=D(1)))

    def warm_atr(self, symbol: str, close: Decimal | int | str, atr: Decimal | int | str) -> None:
        """Feed ``atr_period`` bars whose true range is exactly ``atr``, closing at ``close``."""
        half = D(atr) / 2
        for _ in range(self.config.atr_period):
            self.bar(symbol, close, high=D(close) + half, low=D(close) - half)

    def intent(self, symbol: str, side: Side, strategy: str = "s1", **fields: Any) -> Message:
        """Send an intent; return what the portfolio answered (a SizedOrder or OrderDenied)."""
        self._intents += 1
        for key in ("quantity", "weight", "risk_pct", "risk_per_share", "stop_price"):
            if key in fields and fields[key] is not None:
                fields[key] = D(fields[key])
        before = len(self.out)
        self.handle(
            OrderIntent(
                ts=self.clock.now_ns(),
                intent_id=f"i{self._intents}",
                strategy=strategy,
                symbol=symbol,
                side=side,
                **fields,
            )
        )
        answers = [m for m in self.out[before:] if isinstance(m, SizedOrder | OrderDenied)]
        assert len(answers) == 1, answers
        return answers[0]

    def sized(self, symbol: str, side: Side, strategy: str = "s1", **fields: Any) -> SizedOrder:
        answer = self.intent(symbol, side, strategy, **fields)
        assert isinstance(answer, SizedOrder), answer
        return answer

    def denied(self, symbol: str, side: Side, strategy: str = "s1", **fields: Any) -> OrderDenied:
        answer = self.intent(symbol, side, strategy, **fields)
        assert isinstance(answer, OrderDenied), answer
        return answer

    def fill(
        self,
        order: SizedOrder,
        price: Decimal | int | str | None = None,
        quantity: Decimal | int | str | None = None,
        commission: Decimal | int | str = 0,
    ) -> None:
        self._fills += 1
        self.handle(
            Fill(
                leaves_quantity=D(0),
                ts=self.clock.now_ns(),
                fill_id=f"f{self._fills}",
                order_id=order.order_id,
                strategy=order.strategy,
                symbol=order.symbol,
                side=order.side,
                quantity=D(quantity) if quantity is not None else order.quantity,
                price=D(price) if price is not None else order.reference_price,
                commission=D(commission),
            )
        )

    def hold(
        self,
        symbol: str,
        quantity: Decimal | int | str,
        price: Decimal | int | str,
        strategy: str = "s1",
    ) -> None:
        """Mark ``symbol`` at ``price`` and book a fill of ``quantity`` (signed) there.

        The fill belongs to no sized order (as after a manual trade), so setting up a
        position does not depend on the caps under test.
        """
        amount = D(quantity)
        self.bar(symbol, price)
        self._fills += 1
        self.handle(
            Fill(
                leaves_quantity=D(0),
                ts=self.clock.now_ns(),
                fill_id=f"setup-{self._fills}",
                order_id=f"setup-{self._fills}",
                strategy=strategy,
                symbol=symbol,
                side="BUY" if amount > 0 else "SELL",
                quantity=abs(amount),
                price=D(price),
            )
        )

    def update(self, order: SizedOrder, status: OrderStatus, filled: Decimal | int = 0) -> None:
        self.handle(
            OrderUpdate(
                ts=self.clock.now_ns(),
                order_id=order.order_id,
                strategy=order.strategy,
                symbol=order.symbol,
                status=status,
                filled_quantity=D(filled),
                remaining_quantity=order.quantity - D(filled),
            )
        )

    def risk_denies(self, order: SizedOrder, *, with_order_id: bool = True) -> None:
        self.handle(
            OrderDenied(
                ts=self.clock.now_ns(),
                intent_id=order.intent_id,
                strategy=order.strategy,
                symbol=order.symbol,
                side=order.side,
                reason="ORDER_NOTIONAL_CAP",
                source="risk",
                order_id=order.order_id if with_order_id else None,
            )
        )

    # -- state -----------------------------------------------------------------------------

    @property
    def equity(self) -> Decimal:
        return self.actor.ledger.equity

    def snapshot(self) -> PortfolioSnapshot:
        return self.last(PortfolioSnapshot)

    def position_update(self) -> PositionUpdate:
        return self.last(PositionUpdate)


def cap_inputs(
    config: PortfolioConfig,
    price: Decimal | int | str,
    *,
    equity: Decimal | int | str = 100000,
    net: Exposure | None = None,
    own: Exposure | None = None,
    capital_pct: Decimal | str | None = None,
    strategy_used: Decimal | int | str = 0,
    gross_used: Decimal | int | str = 0,
    margin_used: Decimal | int | str = 0,
    margin_book: Decimal | int | str = 0,
    symbol_pct: Decimal | str | None = None,
) -> CapInputs:
    """CapInputs for the pure tests, limits derived from ``config`` like the actor does."""
    equity = D(equity)
    capital = D(capital_pct) if capital_pct is not None else config.max_risk_per_strategy_pct
    return CapInputs(
        price=D(price),
        net=net or Exposure(D(0)),
        own=own or Exposure(D(0)),
        strategy_budget=equity * capital,
        strategy_used=D(strategy_used),
        symbol_limit=equity * D(symbol_pct) if symbol_pct is not None else None,
        gross_limit=equity * config.max_exposure_pct * config.max_leverage,
        gross_used=D(gross_used),
        margin_limit=equity * config.max_leverage,
        margin_used=D(margin_used),
        margin_book=D(margin_book),
        short_margin_factor=config.short_margin_pct * config.max_leverage,
    )
