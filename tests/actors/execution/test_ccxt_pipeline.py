"""The whole live pipeline trading through real ccxt on the Binance simulator."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from venue_sim import VenueSim, serving

from atrium.config import parse_config
from atrium.runtime.clocks import LiveClock
from atrium.runtime.codec import decode
from atrium.runtime.journal import Journal
from atrium.runtime.messages import AccountBalances, Fill, InstrumentRules, Order
from atrium.runtime.recovery import resume_session
from atrium.runtime.topology import build_pipeline


@pytest.fixture
async def sim() -> AsyncIterator[tuple[VenueSim, str]]:
    venue = VenueSim(balances={"USDT": Decimal(100_000)})
    venue.add_market("BTC", "USDT", step="0.001", min_notional="10")
    venue.market_price["BTCUSDT"] = Decimal("100")
    async with serving(venue) as url:
        yield venue, url


def _config(url: str, journal: Path, order_updates: str = "polling") -> Any:
    return parse_config(
        {
            "market_data": {
                "feeds": [
                    {
                        "format": "synthetic_live",
                        "bar_seconds": 1,
                        "synthetic_live": {
                            "seed": 3, "symbols": ["BTC/USDT"], "rate_per_second": 400.0,
                            "volatility": 3.0,
                        },
                    }
                ]
            },
            "strategies": {
                "cross": {
                    "class": "atrium.actors.strategy.bundled.ema_cross:EmaCross",
                    "symbols": ["BTC/USDT"],
                    "params": {"fast": 2, "slow": 3, "allow_short": False},
                }
            },
            "portfolio": {"strategy_budgets": {"cross": {"capital_pct": 0.5, "fixed_qty": 1}}},
            "risk": {"price_band_pct": None},
            "execution": {
                "venue": "ccxt",
                "ccxt": {"exchange": "binance", "base_url": url, "symbols": ["BTC/USDT"],
                         "poll_interval_s": 0.05, "order_updates": order_updates},
            },
            "journal": {"path": str(journal)},
            "runtime": {"log_level": "WARNING"},
        }
    )  # fmt: skip


@pytest.mark.parametrize("order_updates", ["polling", "websocket"])
async def test_pipeline_when_strategy_trades_then_venue_fills_booked_once_by_portfolio(
    sim: tuple[VenueSim, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order_updates: str
) -> None:
    state, url = sim
    monkeypatch.setenv("ATRIUM_CCXT_API_KEY", "sim-key")
    monkeypatch.setenv("ATRIUM_CCXT_SECRET", "sim-secret")
    config = _config(url, tmp_path / "j.sqlite", order_updates)
    clock = LiveClock()
    pipeline = build_pipeline(config, clock=clock, mode="live")
    journal = Journal(tmp_path / "j.sqlite", durable=True)
    await journal.open()
    portfolio: Any = None

    async def recover() -> None:
        await resume_session(pipeline, journal, config, clock=clock)

    async def run_then_close() -> None:
        await pipeline.supervisor.run(before_sources=recover)
        tg.cancel_scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(journal.run_writer)
        tg.start_soon(run_then_close)
        with anyio.fail_after(30):
            while len(state.trades) < 2 or portfolio is None or not _agrees(portfolio, state):
                await anyio.sleep(0.05)
                portfolio = pipeline.slots["portfolio"].actor
        pipeline.supervisor.request_stop("test over")
    await journal.close()
    messages = _journal(tmp_path / "j.sqlite")
    orders = [m for m in messages if isinstance(m, Order)]
    fills = [m for m in messages if isinstance(m, Fill)]
    risk: Any = pipeline.slots["risk"].actor
    rules = risk._instruments["BTC/USDT"]
    assert (rules.quantity_step, rules.min_notional) == (Decimal("0.001"), Decimal("10"))
    journaled = [m for m in messages if isinstance(m, InstrumentRules)]  # so recovery sees them
    assert [(r.symbol, r.quantity_step, r.min_notional) for r in journaled] == [
        ("BTC/USDT", Decimal("0.001"), Decimal("10"))
    ]
    assert messages.index(journaled[0]) < messages.index(orders[0])
    assert state.created == [o.order_id for o in orders][: len(state.created)]
    assert len({f.fill_id for f in fills}) == len(fills)
    journal_qty = sum(f.quantity * (1 if f.side == "BUY" else -1) for f in fills)
    assert _position(portfolio) == journal_qty == _venue_position(state)
    assert len(fills) == len(state.trades)
    assert all(f.price == Decimal("100") for f in fills)
    assert all(f.commission == Decimal("0.1") for f in fills)  # 0.1% of 1 x 100


def _venue_position(state: VenueSim) -> Decimal:
    return sum((Decimal(t["qty"]) * (1 if t["isBuyer"] else -1) for t in state.trades), Decimal(0))


def _position(portfolio: Any) -> Decimal:
    booked = {p["symbol"]: Decimal(p["quantity"]) for p in portfolio.positions()}
    return booked.get("BTC/USDT", Decimal(0))


def _agrees(portfolio: Any, state: VenueSim) -> bool:
    return _position(portfolio) == _venue_position(state)


def _journal(path: Path) -> list[Any]:
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT payload FROM events ORDER BY seq").fetchall()
    return [decode(payload) for (payload,) in rows]


async def _start_then_read(config: Any, journal_path: Path) -> dict[str, Any]:
    """Start (recover, reconcile) on ``journal_path``; the portfolio's views once the
    venue is reconciled, before any source runs; then stop."""
    clock = LiveClock()
    pipeline = build_pipeline(config, clock=clock, mode="live")
    journal = Journal(journal_path, durable=True)
    await journal.open()
    seen: dict[str, Any] = {}

    async def recover_then_read() -> None:
        await resume_session(pipeline, journal, config, clock=clock)
        portfolio: Any = pipeline.slots["portfolio"].actor
        seen["limits"], seen["positions"] = portfolio.limits(), portfolio.positions()
        pipeline.supervisor.request_stop("test over")

    async with anyio.create_task_group() as tg:
        tg.start_soon(journal.run_writer)
        with anyio.fail_after(30):
            await pipeline.supervisor.run(before_sources=recover_then_read)
        tg.cancel_scope.cancel()
    await journal.close()
    return seen


async def test_balances_when_venue_holds_usdt_and_btc_then_cash_and_unattributed_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venue = VenueSim(balances={"USDT": Decimal(1000), "BTC": Decimal("0.5")})
    venue.add_market("BTC", "USDT", step="0.001", min_notional="10")
    venue.market_price["BTCUSDT"] = Decimal("40000")
    monkeypatch.setenv("ATRIUM_CCXT_API_KEY", "sim-key")
    monkeypatch.setenv("ATRIUM_CCXT_SECRET", "sim-secret")
    async with serving(venue) as url:
        config = _config(url, tmp_path / "j.sqlite")
        first = await _start_then_read(config, tmp_path / "j.sqlite")
        venue.balances["USDT"] = Decimal("1250.5")  # a deposit while nothing ran
        second = await _start_then_read(config, tmp_path / "j.sqlite")
    limits = first["limits"]
    assert (limits["cash"], limits["equity"]) == ("1000", "21000")  # 1000 + 0.5 x 40000
    assert limits["per_symbol"]["BTC/USDT"]["exposure"] == "20000"
    assert "venue" not in limits["per_strategy"]  # no strategy, so no budget
    assert [(p["strategy"], p["quantity"], p["mark"], p["market_value"]) for p in first["positions"]] == [
        ("venue", "0.5", "40000", "20000")
    ]  # fmt: skip
    (position,) = second["positions"]  # re-run, not added twice; marked by the feed's bars
    assert (position["strategy"], position["quantity"]) == ("venue", "0.5")
    equity = Decimal("1250.5") + Decimal("0.5") * Decimal(position["mark"])
    assert (second["limits"]["cash"], second["limits"]["equity"]) == ("1250.5", str(equity))
    balances = [m for m in _journal(tmp_path / "j.sqlite") if isinstance(m, AccountBalances)]
    assert [(b.cash, [(h.quantity, h.price) for h in b.holdings]) for b in balances] == [
        (Decimal(1000), [(Decimal("0.5"), Decimal(40000))]),
        (Decimal("1250.5"), [(Decimal("0.5"), Decimal(40000))]),
    ]
