"""The trading state machine (ACTIVE / REDUCING / HALTED) and the loss limits that drive it.

Pure: no clock, no bus. The actor feeds it equity, clock readings and control commands
and publishes the :class:`StateChange` values it returns.

The state is the more severe of two things:

* the **operator state**, set by ``Control`` (``halt`` → HALTED, ``reduce_only`` and
  ``flatten`` → REDUCING, ``resume`` → ACTIVE; ``risk.initial_state`` at start);
* the state forced by each **tripped** loss limit (``halt`` → HALTED, ``reduce`` →
  REDUCING).

Each loss limit is ARMED, TRIPPED or ACKNOWLEDGED:

* ARMED → TRIPPED when its loss reaches the limit (``loss >= limit``). Recovery does not
  un-trip it: a limit-forced state stays until an operator acts.
* TRIPPED → ACKNOWLEDGED on ``halt``, ``reduce_only`` or ``flatten``: the operator has
  taken over, so the limit stops forcing its state (a flatten after a drawdown halt must
  let the closing orders through) and does not trip again.
* any → ARMED on ``resume``, with its baseline moved to the current equity (peak for the
  drawdown, day start for the daily loss): the operator accepts the loss so far, and the
  limit protects the next ``limit`` fraction from here. Without the re-base the next
  snapshot would trip it again at once and ``resume`` could never work.
* the daily-loss limit also re-arms at the next UTC day when
  ``daily_loss_resets_next_day`` is set; its baseline is then that day's start equity.

Loss measures (a profit never trips a limit):

* drawdown = ``(peak − equity) / peak``; the peak is the highest equity seen, seeded on
  the first snapshot with the portfolio's own ``peak_equity`` so a restart does not
  forget an earlier high.
* a transfer (a deposit or withdrawal found at a live venue's reconciliation, the
  snapshot's ``transfers`` moving) is no gain or loss: the peak and the day start move by
  it, so a withdrawal of 1000 from a peak of 21000 leaves the drawdown at 0.
* daily loss = ``max(0, (day_start − equity) / day_start)``; ``day_start`` is the last
  equity seen before the UTC date of the clock changed (yesterday's close, so daily bars
  work), or the first equity seen on the first day.
* a baseline that is not positive gives a ratio of 0 (there is no fraction of nothing).

State change reasons (``TradingStateChanged.reason``), ``CODE key=value ...``:
``INITIAL_STATE``, ``CONTROL_HALT``, ``CONTROL_RESUME``, ``CONTROL_REDUCE_ONLY``,
``CONTROL_FLATTEN`` (with ``source=``), ``MAX_DRAWDOWN``, ``MAX_DAILY_LOSS`` (with the
measured loss, the limit and the equities), ``DAILY_LOSS_RESET`` (with ``day=``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final, Literal, TypeAlias

from atrium.config.risk import LimitAction
from atrium.runtime.messages import ControlCommand, TradingState
from atrium.runtime.snapshots import state_type

__all__ = (
    "NS_PER_DAY",
    "LimitStatus",
    "LossLimit",
    "StateChange",
    "TradingStateMachine",
    "utc_day",
)

NS_PER_DAY: Final = 86_400 * 1_000_000_000

LimitStatus: TypeAlias = Literal["ARMED", "TRIPPED", "ACKNOWLEDGED"]

_SEVERITY: Final[dict[TradingState, int]] = {"ACTIVE": 0, "REDUCING": 1, "HALTED": 2}
_FORCED: Final[dict[LimitAction, TradingState]] = {"halt": "HALTED", "reduce": "REDUCING"}
_OPERATOR: Final[dict[ControlCommand, TradingState]] = {
    "halt": "HALTED",
    "reduce_only": "REDUCING",
    "flatten": "REDUCING",
    "resume": "ACTIVE",
}
_ZERO: Final = Decimal(0)
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_NO_CHANGES: Final[tuple[StateChange, ...]] = ()


def utc_day(now_ns: int) -> int:
    """Days since 1970-01-01 (UTC) of a clock reading; Unix time has no leap seconds."""
    return now_ns // NS_PER_DAY


def _iso_day(day: int) -> str:
    return date.fromordinal(_EPOCH_ORDINAL + day).isoformat()


def _loss_ratio(baseline: Decimal | None, equity: Decimal | None) -> Decimal:
    """``(baseline − equity) / baseline``, floored at 0 (a gain is no loss)."""
    if baseline is None or equity is None or baseline <= _ZERO or equity >= baseline:
        return _ZERO
    return (baseline - equity) / baseline


@dataclass(frozen=True, slots=True)
class StateChange:
    """One transition, to be published as ``TradingStateChanged``."""

    state: TradingState
    previous: TradingState
    reason: str


@state_type
@dataclass(slots=True)
class LossLimit:
    """One loss limit: its threshold (a fraction), the state it forces, and its status."""

    limit: Decimal
    action: LimitAction
    status: LimitStatus = "ARMED"

    @property
    def forced(self) -> TradingState:
        return _FORCED[self.action]


@state_type
class TradingStateMachine:
    """The trading state, the loss measures and the limits, updated by events.

    Parameters
    ----------
    initial_state : {"ACTIVE", "REDUCING", "HALTED"}
        The operator state at start.
    drawdown, daily_loss : LossLimit or None
        The loss limits; ``None`` when off.
    daily_loss_resets_next_day : bool
        Re-arm the daily-loss limit when the UTC day changes.
    """

    def __init__(
        self,
        *,
        initial_state: TradingState,
        drawdown: LossLimit | None,
        daily_loss: LossLimit | None,
        daily_loss_resets_next_day: bool,
    ) -> None:
        self.state: TradingState = initial_state
        self._operator: TradingState = initial_state
        self.drawdown_limit = drawdown
        self.daily_loss_limit = daily_loss
        self._resets_next_day = daily_loss_resets_next_day
        self.equity: Decimal | None = None
        self.peak_equity: Decimal | None = None
        self.day_start_equity: Decimal | None = None
        #: The portfolio's net transfers as of the last snapshot (None before the first).
        self.transfers: Decimal | None = None
        self.day: int | None = None
        # First clock reading of a later day; the first reading of all starts day one.
        self._next_day_ns: int | None = None

    # -- measures ------------------------------------------------------------------------

    @property
    def drawdown(self) -> Decimal:
        """``(peak − equity) / peak``; 0 before the first snapshot."""
        return _loss_ratio(self.peak_equity, self.equity)

    @property
    def daily_loss(self) -> Decimal:
        """``(day start − equity) / day start``, 0 on a gain or before the first snapshot."""
        return _loss_ratio(self.day_start_equity, self.equity)

    # -- events --------------------------------------------------------------------------

    def initial_change(self) -> StateChange | None:
        """The change to announce at start when the configured state is not ACTIVE."""
        if self.state == "ACTIVE":
            return None
        return StateChange(self.state, "ACTIVE", "INITIAL_STATE source=config")

    def on_clock(self, now_ns: int) -> tuple[StateChange, ...]:
        """Notice a new UTC day (cheap when the day has not changed)."""
        next_day = self._next_day_ns
        if next_day is not None and now_ns < next_day:
            return _NO_CHANGES
        return self._roll_day(now_ns)

    def on_equity(
        self,
        equity: Decimal,
        peak_equity: Decimal,
        now_ns: int,
        transfers: Decimal | None = None,
    ) -> tuple[StateChange, ...]:
        """Take a portfolio snapshot's equity (and, on the first one, its peak);
        ``transfers`` is the snapshot's (None: no snapshot, a mark moved)."""
        changes = list(self.on_clock(now_ns))
        self._follow_transfers(transfers)
        if self.peak_equity is None:
            self.peak_equity = max(equity, peak_equity)
        elif equity > self.peak_equity:
            self.peak_equity = equity
        if self.day_start_equity is None:
            self.day_start_equity = equity
        self.equity = equity
        drawdown_limit = self.drawdown_limit
        if drawdown_limit is not None and drawdown_limit.status == "ARMED":
            drawdown = self.drawdown
            if drawdown >= drawdown_limit.limit:
                drawdown_limit.status = "TRIPPED"
                self._settle(
                    changes,
                    f"MAX_DRAWDOWN drawdown={drawdown:.6f} max_drawdown_pct={drawdown_limit.limit:f} "
                    f"equity={equity:f} peak_equity={self.peak_equity:f}",
                )
        daily_limit = self.daily_loss_limit
        if daily_limit is not None and daily_limit.status == "ARMED":
            daily_loss = self.daily_loss
            if daily_loss >= daily_limit.limit:
                daily_limit.status = "TRIPPED"
                self._settle(
                    changes,
                    f"MAX_DAILY_LOSS daily_loss={daily_loss:.6f} "
                    f"max_daily_loss_pct={daily_limit.limit:f} equity={equity:f} "
                    f"day_start_equity={self.day_start_equity:f}",
                )
        return tuple(changes)

    def on_command(self, command: ControlCommand, source: str) -> tuple[StateChange, ...]:
        """Apply an operator command; ``shutdown`` is the runtime's business, not ours."""
        operator = _OPERATOR.get(command)
        if operator is None:
            return _NO_CHANGES
        self._operator = operator
        for limit in self._limits():
            if command == "resume":
                if limit.status != "ARMED":
                    self._rebase(limit)
                    limit.status = "ARMED"
            elif limit.status == "TRIPPED":
                limit.status = "ACKNOWLEDGED"
        changes: list[StateChange] = []
        self._settle(changes, f"CONTROL_{command.upper()} source={source}")
        return tuple(changes)

    # -- internals -----------------------------------------------------------------------

    def _follow_transfers(self, transfers: Decimal | None) -> None:
        """Move the baselines by the money moved in or out since the last snapshot."""
        if transfers is None:
            return
        moved = _ZERO if self.transfers is None else transfers - self.transfers
        self.transfers = transfers
        if moved and self.peak_equity is not None:
            self.peak_equity += moved
        if moved and self.day_start_equity is not None:
            self.day_start_equity += moved

    def _limits(self) -> tuple[LossLimit, ...]:
        return tuple(
            limit for limit in (self.drawdown_limit, self.daily_loss_limit) if limit is not None
        )

    def _rebase(self, limit: LossLimit) -> None:
        if limit is self.drawdown_limit:
            self.peak_equity = self.equity
        else:
            self.day_start_equity = self.equity

    def _roll_day(self, now_ns: int) -> tuple[StateChange, ...]:
        day = utc_day(now_ns)
        self._next_day_ns = (day + 1) * NS_PER_DAY
        if self.day is None:
            self.day = day
            return _NO_CHANGES
        if day <= self.day:
            # A wall clock stepped back: keep today's baseline rather than re-roll.
            return _NO_CHANGES
        self.day = day
        if self.equity is not None:
            self.day_start_equity = self.equity
        daily_limit = self.daily_loss_limit
        if daily_limit is None or not self._resets_next_day or daily_limit.status == "ARMED":
            return _NO_CHANGES
        daily_limit.status = "ARMED"
        changes: list[StateChange] = []
        self._settle(changes, f"DAILY_LOSS_RESET day={_iso_day(day)}")
        return tuple(changes)

    def _settle(self, changes: list[StateChange], reason: str) -> None:
        """Recompute the state; record a change (with ``reason``) when it moved."""
        target = self._operator
        for limit in self._limits():
            if limit.status == "TRIPPED" and _SEVERITY[limit.forced] > _SEVERITY[target]:
                target = limit.forced
        if target != self.state:
            changes.append(StateChange(target, self.state, reason))
            self.state = target
