"""Trading state machine and loss limits, with hand-worked equities."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from atrium.actors.risk.state import (
    NS_PER_DAY,
    LossLimit,
    StateChange,
    TradingStateMachine,
    utc_day,
)
from atrium.config.risk import LimitAction
from atrium.runtime.messages import TradingState

D = Decimal
HOUR = 3_600_000_000_000
# 2024-01-02 and 2024-01-03, 14:30 UTC
DAY1 = (date(2024, 1, 2).toordinal() - date(1970, 1, 1).toordinal()) * NS_PER_DAY + 14 * HOUR
DAY2 = DAY1 + NS_PER_DAY


def _machine(
    *,
    drawdown: str | None = None,
    drawdown_action: LimitAction = "halt",
    daily: str | None = None,
    daily_action: LimitAction = "halt",
    resets: bool = True,
    initial: TradingState = "ACTIVE",
) -> TradingStateMachine:
    return TradingStateMachine(
        initial_state=initial,
        drawdown=None if drawdown is None else LossLimit(limit=D(drawdown), action=drawdown_action),
        daily_loss=None if daily is None else LossLimit(limit=D(daily), action=daily_action),
        daily_loss_resets_next_day=resets,
    )


def _feed(machine: TradingStateMachine, *equities: str, at: int = DAY1) -> list[StateChange]:
    changes: list[StateChange] = []
    for equity in equities:
        changes.extend(machine.on_equity(D(equity), D(0), at))
    return changes


def test_utc_day_when_midnight_then_new_day_starts_exactly() -> None:
    midnight = utc_day(DAY2) * NS_PER_DAY
    assert utc_day(midnight - 1) == utc_day(DAY1)
    assert utc_day(midnight) == utc_day(DAY1) + 1


# -- drawdown -------------------------------------------------------------------------


def test_on_equity_when_drawdown_reaches_limit_then_halted() -> None:
    machine = _machine(drawdown="0.1")
    # peak 100000, 90000: (100000 − 90000) / 100000 = 0.1 reaches 0.1
    changes = _feed(machine, "100000", "90000")
    assert changes == [
        StateChange(
            "HALTED",
            "ACTIVE",
            "MAX_DRAWDOWN drawdown=0.100000 max_drawdown_pct=0.1 equity=90000 peak_equity=100000",
        )
    ]
    assert machine.state == "HALTED"
    assert machine.drawdown == D("0.1")


def test_on_equity_when_drawdown_just_inside_limit_then_stays_active() -> None:
    machine = _machine(drawdown="0.1")
    # (100000 − 90001) / 100000 = 0.09999
    assert _feed(machine, "100000", "90001") == []
    assert machine.state == "ACTIVE"
    assert machine.drawdown == D("0.09999")


def test_on_equity_when_drawdown_action_reduce_then_reducing() -> None:
    machine = _machine(drawdown="0.05", drawdown_action="reduce")
    # (200 − 188) / 200 = 0.06
    changes = _feed(machine, "200", "188")
    assert [(c.state, c.previous) for c in changes] == [("REDUCING", "ACTIVE")]


def test_on_equity_when_profit_then_far_fall_within_limit_of_new_peak_then_no_trip() -> None:
    machine = _machine(drawdown="0.1")
    # start 100000, peak 250000; 226000 is (250000 − 226000) / 250000 = 0.096 below the peak
    assert _feed(machine, "100000", "180000", "250000", "226000") == []
    assert machine.state == "ACTIVE"
    assert machine.peak_equity == D(250000)
    assert machine.drawdown == D("0.096")


def test_on_equity_when_first_snapshot_carries_higher_peak_then_peak_seeded() -> None:
    machine = _machine(drawdown="0.1")
    # restart: the portfolio remembers a peak of 120000; 100000 is 1/6 below it
    changes = machine.on_equity(D(100000), D(120000), DAY1)
    assert [c.state for c in changes] == ["HALTED"]
    assert changes[0].reason == (
        "MAX_DRAWDOWN drawdown=0.166667 max_drawdown_pct=0.1 equity=100000 peak_equity=120000"
    )


def test_on_equity_when_later_snapshot_carries_peak_then_own_peak_kept() -> None:
    machine = _machine(drawdown="0.1")
    machine.on_equity(D(100000), D(100000), DAY1)
    assert machine.on_equity(D(95000), D(200000), DAY1) == ()
    assert machine.peak_equity == D(100000)


def test_on_equity_when_recovered_after_drawdown_trip_then_stays_halted() -> None:
    machine = _machine(drawdown="0.1")
    _feed(machine, "100000", "85000")
    assert _feed(machine, "100000", "120000") == []
    assert machine.state == "HALTED"


def test_on_equity_when_peak_not_positive_then_drawdown_zero() -> None:
    machine = _machine(drawdown="0.1")
    assert _feed(machine, "0", "-50") == []
    assert machine.drawdown == D(0)


# -- daily loss -----------------------------------------------------------------------


def test_on_equity_when_daily_loss_reaches_limit_then_halted() -> None:
    machine = _machine(daily="0.05")
    # day start 100000 (first equity of the first day); (100000 − 95000) / 100000 = 0.05
    changes = _feed(machine, "100000", "95000")
    assert changes == [
        StateChange(
            "HALTED",
            "ACTIVE",
            "MAX_DAILY_LOSS daily_loss=0.050000 max_daily_loss_pct=0.05 equity=95000 "
            "day_start_equity=100000",
        )
    ]


def test_on_equity_when_day_rises_then_falls_back_to_start_then_no_trip() -> None:
    machine = _machine(daily="0.05")
    # up 50 % and back to the start: a 33 % fall from the high but no loss on the day
    assert _feed(machine, "100000", "150000", "100000") == []
    assert machine.daily_loss == D(0)
    # 95500 is 4.5 % below the day start: still inside
    assert _feed(machine, "95500") == []
    assert machine.daily_loss == D("0.045")


def test_on_equity_when_new_day_then_baseline_is_previous_days_last_equity() -> None:
    machine = _machine(daily="0.04")
    _feed(machine, "100000", "98000", at=DAY1)
    # (98000 − 94000) / 98000 = 0.0408163... >= 0.04
    changes = _feed(machine, "94000", at=DAY2)
    assert machine.day_start_equity == D(98000)
    assert [c.reason for c in changes] == [
        "MAX_DAILY_LOSS daily_loss=0.040816 max_daily_loss_pct=0.04 equity=94000 "
        "day_start_equity=98000"
    ]


def test_on_clock_when_next_day_and_resets_then_daily_halt_released() -> None:
    machine = _machine(daily="0.05")
    _feed(machine, "100000", "94000", at=DAY1)
    assert machine.state == "HALTED"
    assert machine.on_clock(DAY2 - 15 * HOUR) == ()  # 23:30 on day one
    changes = machine.on_clock(DAY2)
    assert changes == (StateChange("ACTIVE", "HALTED", "DAILY_LOSS_RESET day=2024-01-03"),)
    assert machine.day_start_equity == D(94000)
    assert machine.daily_loss == D(0)


def test_on_clock_when_next_day_and_no_reset_configured_then_stays_halted() -> None:
    machine = _machine(daily="0.05", resets=False)
    _feed(machine, "100000", "94000", at=DAY1)
    assert machine.on_clock(DAY2) == ()
    assert machine.state == "HALTED"
    # a further loss on day two does not trip again: the limit is still tripped
    assert _feed(machine, "80000", at=DAY2) == []


def test_on_clock_when_next_day_but_drawdown_also_tripped_then_stays_halted() -> None:
    machine = _machine(drawdown="0.05", daily="0.05")
    changes = _feed(machine, "100000", "94000", at=DAY1)
    assert [c.reason.split()[0] for c in changes] == ["MAX_DRAWDOWN"]
    assert machine.on_clock(DAY2) == ()
    assert machine.state == "HALTED"


def test_on_clock_when_next_day_after_operator_halt_then_stays_halted() -> None:
    machine = _machine(daily="0.05")
    _feed(machine, "100000", at=DAY1)
    machine.on_command("halt", "operator")
    assert machine.on_clock(DAY2) == ()
    assert machine.state == "HALTED"


def test_on_clock_when_daily_halt_over_operator_reduce_then_next_day_back_to_reducing() -> None:
    machine = _machine(daily="0.05")
    _feed(machine, "100000", at=DAY1)
    machine.on_command("reduce_only", "operator")
    changes = _feed(machine, "90000", at=DAY1)
    assert [(c.state, c.previous) for c in changes] == [("HALTED", "REDUCING")]
    assert machine.on_clock(DAY2) == (
        StateChange("REDUCING", "HALTED", "DAILY_LOSS_RESET day=2024-01-03"),
    )


def test_on_clock_when_day_goes_back_then_baseline_kept() -> None:
    machine = _machine(daily="0.05")
    _feed(machine, "100000", at=DAY2)
    _feed(machine, "97000", at=DAY2)
    assert machine.on_clock(DAY1) == ()
    assert machine.day_start_equity == D(100000)


# -- operator commands ----------------------------------------------------------------


def test_on_command_when_halt_resume_reduce_flatten_then_each_transition_reported() -> None:
    machine = _machine()
    assert machine.on_command("halt", "operator") == (
        StateChange("HALTED", "ACTIVE", "CONTROL_HALT source=operator"),
    )
    assert machine.on_command("reduce_only", "http") == (
        StateChange("REDUCING", "HALTED", "CONTROL_REDUCE_ONLY source=http"),
    )
    assert machine.on_command("resume", "operator") == (
        StateChange("ACTIVE", "REDUCING", "CONTROL_RESUME source=operator"),
    )
    assert machine.on_command("flatten", "operator") == (
        StateChange("REDUCING", "ACTIVE", "CONTROL_FLATTEN source=operator"),
    )


def test_on_command_when_state_unchanged_or_shutdown_then_no_change() -> None:
    machine = _machine()
    assert machine.on_command("resume", "operator") == ()
    assert machine.on_command("shutdown", "operator") == ()
    machine.on_command("halt", "operator")
    assert machine.on_command("halt", "operator") == ()
    assert machine.state == "HALTED"


def test_on_command_when_resume_after_drawdown_trip_then_limit_rebased_to_equity() -> None:
    machine = _machine(drawdown="0.1")
    _feed(machine, "100000", "90000")
    assert [c.state for c in machine.on_command("resume", "operator")] == ["ACTIVE"]
    assert machine.peak_equity == D(90000)
    assert machine.drawdown == D(0)
    # (90000 − 81001) / 90000 = 0.09999 inside; 81000 gives exactly 0.1
    assert _feed(machine, "81001") == []
    assert [c.state for c in _feed(machine, "81000")] == ["HALTED"]


def test_on_command_when_resume_after_daily_trip_then_day_start_rebased() -> None:
    machine = _machine(drawdown="0.5", daily="0.05")
    _feed(machine, "100000", "95000")
    machine.on_command("resume", "operator")
    assert machine.day_start_equity == D(95000)
    # drawdown was not tripped: its peak is kept
    assert machine.peak_equity == D(100000)
    # (95000 − 90250) / 95000 = 0.05
    assert [c.reason.split()[0] for c in _feed(machine, "90250")] == ["MAX_DAILY_LOSS"]


def test_on_command_when_resume_without_trip_then_peak_kept() -> None:
    machine = _machine(drawdown="0.1")
    _feed(machine, "100000", "93000")
    machine.on_command("halt", "operator")
    machine.on_command("resume", "operator")
    # the operator's pause does not loosen the drawdown: still measured from 100000
    assert machine.peak_equity == D(100000)
    assert [c.state for c in _feed(machine, "90000")] == ["HALTED"]


def test_on_command_when_flatten_after_limit_halt_then_reducing_and_no_retrip() -> None:
    machine = _machine(drawdown="0.1")
    _feed(machine, "100000", "90000")
    assert machine.on_command("flatten", "operator") == (
        StateChange("REDUCING", "HALTED", "CONTROL_FLATTEN source=operator"),
    )
    # acknowledged: further losses while flattening do not force HALTED again
    assert _feed(machine, "70000") == []
    assert machine.state == "REDUCING"


def test_on_command_when_limit_reduce_then_operator_halt_then_resume_then_active() -> None:
    machine = _machine(drawdown="0.1", drawdown_action="reduce")
    _feed(machine, "100", "90")
    assert machine.state == "REDUCING"
    machine.on_command("halt", "operator")
    assert [(c.state, c.previous) for c in machine.on_command("resume", "operator")] == [
        ("ACTIVE", "HALTED")
    ]


def test_initial_change_when_configured_halted_then_announced_from_active() -> None:
    assert _machine(initial="HALTED").initial_change() == StateChange(
        "HALTED", "ACTIVE", "INITIAL_STATE source=config"
    )
    assert _machine().initial_change() is None


def test_on_equity_when_withdrawal_found_at_reconnect_then_peak_follows_and_no_drawdown() -> None:
    machine = _machine(drawdown="0.04", daily="0.04")
    machine.on_equity(D(21000), D(21000), DAY1, D(0))
    # the venue's cash is 1000 lower: a withdrawal, the portfolio's transfers -1000
    assert machine.on_equity(D(20000), D(20000), DAY1, D(-1000)) == ()
    assert (machine.peak_equity, machine.day_start_equity) == (D(20000), D(20000))
    assert (machine.drawdown, machine.daily_loss) == (D(0), D(0))  # not 1000 / 21000 = 4.76 %
    machine.on_equity(D(19600), D(20000), DAY1)  # a mark moved: a real loss of 400
    assert machine.drawdown == D("0.02")  # 400 / 20000, from the peak moved by the transfer


def test_on_equity_when_transfers_unchanged_then_a_fall_is_a_loss() -> None:
    machine = _machine(drawdown="0.04")
    machine.on_equity(D(21000), D(21000), DAY1, D(-500))  # seeded: earlier transfers count not
    changes = machine.on_equity(D(20000), D(21000), DAY1, D(-500))
    assert [c.state for c in changes] == ["HALTED"]
    assert machine.drawdown == D(1000) / D(21000)
