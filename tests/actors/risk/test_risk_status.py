"""``RiskActor.status()``: the ``GET /api/risk`` document, driven without an event loop."""

from __future__ import annotations

import json
from decimal import Decimal

from prometheus_client import CollectorRegistry

from atrium.actors.risk import RiskActor
from atrium.config.risk import RiskConfig, SymbolRiskConfig
from atrium.runtime.actor import ActorContext
from atrium.runtime.clocks import SimClock
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.messages import Control, ControlCommand, PortfolioSnapshot

D = Decimal
# 2024-01-02 14:30 UTC
NOW = 1_704_205_800 * 1_000_000_000


def _risk(config: RiskConfig) -> RiskActor:
    return RiskActor(
        ActorContext(
            name="risk",
            config=config,
            clock=SimClock(NOW),
            dispatcher=Dispatcher(),
            registry=CollectorRegistry(),
        )
    )


def _snapshot(risk: RiskActor, equity: str) -> None:
    value = D(equity)
    risk.handle(
        PortfolioSnapshot(
            ts=NOW,
            equity=value,
            cash=value,
            gross_exposure=D(0),
            net_exposure=D(0),
            drawdown=D(0),
            realized_pnl=D(0),
            unrealized_pnl=D(0),
            peak_equity=value,
        )
    )


def _control(risk: RiskActor, command: ControlCommand) -> None:
    risk.handle(Control(ts=NOW, command=command))


def test_status_when_defaults_and_no_snapshot_then_active_with_default_limits() -> None:
    status = _risk(RiskConfig()).status()

    assert status == {
        "trading_state": "ACTIVE",
        "limits": {
            "max_order_notional": None,
            "symbols": {},
            "max_order_rate": 100,
            "order_rate_window_seconds": "1",
            "price_band_pct": "0.1",
            "max_drawdown_pct": None,
            "drawdown_action": "halt",
            "max_daily_loss_pct": None,
            "daily_loss_action": "halt",
            "daily_loss_resets_next_day": True,
        },
        "limit_status": {},
        "tripped": [],
        "equity": None,
        "peak_equity": None,
        "day_start_equity": None,
        "drawdown_ratio": "0",
        "daily_loss_ratio": "0",
    }


def test_status_when_caps_configured_then_decimals_are_plain_strings_and_json_safe() -> None:
    config = RiskConfig(
        max_order_notional=D("1.5E+5"),
        symbols={"NVDA": SymbolRiskConfig(max_order_notional=D("250000.00"))},
        max_order_rate=None,
        order_rate_window_seconds=0.25,
        price_band_pct=None,
        max_drawdown_pct=0.2,
        drawdown_action="reduce",
        max_daily_loss_pct=0.05,
        daily_loss_resets_next_day=False,
    )

    status = _risk(config).status()

    assert status["limits"] == {
        "max_order_notional": "150000",
        "symbols": {"NVDA": {"max_order_notional": "250000"}},
        "max_order_rate": None,
        "order_rate_window_seconds": "0.25",
        "price_band_pct": None,
        "max_drawdown_pct": "0.2",
        "drawdown_action": "reduce",
        "max_daily_loss_pct": "0.05",
        "daily_loss_action": "halt",
        "daily_loss_resets_next_day": False,
    }
    assert status["limit_status"] == {"max_drawdown_pct": "ARMED", "max_daily_loss_pct": "ARMED"}
    # JSON-safe as it stands: no Decimal, no custom encoder needed.
    assert json.loads(json.dumps(status)) == status


def test_status_when_loss_passes_both_limits_then_halted_with_both_tripped_and_ratios() -> None:
    risk = _risk(RiskConfig(max_drawdown_pct=0.1, max_daily_loss_pct=0.05))
    _snapshot(risk, "100000")
    _snapshot(risk, "89000")

    status = risk.status()

    # (100000 - 89000) / 100000 = 0.11 for both: peak and day start are the first equity.
    assert status["trading_state"] == "HALTED"
    assert status["limit_status"] == {
        "max_drawdown_pct": "TRIPPED",
        "max_daily_loss_pct": "TRIPPED",
    }
    assert status["tripped"] == ["max_drawdown_pct", "max_daily_loss_pct"]
    assert (status["equity"], status["peak_equity"], status["day_start_equity"]) == (
        "89000",
        "100000",
        "100000",
    )
    assert (status["drawdown_ratio"], status["daily_loss_ratio"]) == ("0.11", "0.11")


def test_status_when_operator_halts_then_resumes_then_acknowledged_then_rearmed_and_rebased() -> (
    None
):
    risk = _risk(RiskConfig(max_drawdown_pct=0.1))
    _snapshot(risk, "100000")
    _snapshot(risk, "88000")

    _control(risk, "halt")
    halted = risk.status()
    _control(risk, "resume")
    resumed = risk.status()

    assert (halted["trading_state"], halted["limit_status"], halted["tripped"]) == (
        "HALTED",
        {"max_drawdown_pct": "ACKNOWLEDGED"},
        [],
    )
    assert halted["drawdown_ratio"] == "0.12"
    # resume accepts the loss: the peak moves to the current equity, the ratio to 0.
    assert (resumed["trading_state"], resumed["limit_status"], resumed["tripped"]) == (
        "ACTIVE",
        {"max_drawdown_pct": "ARMED"},
        [],
    )
    assert (resumed["peak_equity"], resumed["drawdown_ratio"]) == ("88000", "0")


def test_status_when_reduce_only_control_then_reducing() -> None:
    risk = _risk(RiskConfig())

    _control(risk, "reduce_only")

    assert risk.status()["trading_state"] == "REDUCING"
