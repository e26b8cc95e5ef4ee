"""A replay of a 50x future: equity.csv moves by points x 50 x contracts, trades.csv PnL too."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from atrium.runtime.cli import main

D = Decimal
MODULE = "es_buy_two"
STRATEGY = """
from atrium.actors.strategy import Strategy
from atrium.config.base import ConfigBase


class Params(ConfigBase, frozen=True, kw_only=True):
    pass


class BuyTwo(Strategy[Params]):
    Params = Params

    def on_bar(self, bar) -> None:
        if self.position(bar.symbol) == 0 and bar.close == 4000:
            self.buy(bar.symbol, 2)
        elif self.position(bar.symbol) > 0 and bar.close > 4020:
            self.close(bar.symbol)
"""
# Decided on day 1's close; filled at day 2's open 4,000.00; closed at day 5's open.
BARS = """Date,Open,High,Low,Close,Adj Close,Volume
2024-01-02,3990.00,4001.00,3985.00,4000.00,4000.00,100000
2024-01-03,4000.00,4012.00,3998.00,4010.00,4010.00,100000
2024-01-04,4010.00,4011.00,3985.00,3990.50,3990.50,100000
2024-01-05,3990.50,4030.00,3990.00,4025.25,4025.25,100000
2024-01-08,4030.00,4031.00,4022.00,4028.00,4028.00,100000
"""
CONFIG = """
[[market_data.feeds]]
path = "es.csv"
symbol = "ES"

[instruments.ES]
multiplier = 50
tick_size = 0.25

[strategies.two]
class = "es_buy_two:BuyTwo"
symbols = ["ES"]

[portfolio]
initial_capital = 100000
max_leverage = 5
max_exposure_pct = 1

[portfolio.strategy_budgets.two]
capital_pct = 5

[execution]
commission_per_share = 2.10
"""


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "es.csv").write_text(BARS)
    (tmp_path / f"{MODULE}.py").write_text(STRATEGY)
    path = tmp_path / "atrium.toml"
    path.write_text(CONFIG)
    yield path
    sys.modules.pop(MODULE, None)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_replay_when_es_held_then_equity_moves_by_points_times_fifty_times_contracts(
    config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert main(["replay", "--config", str(config), "--out", str(out), "--no-progress"]) == 0
    trades = _rows(out / "trades.csv")
    assert [(t["side"], t["quantity"], t["price"], t["commission"]) for t in trades] == [
        ("BUY", "2", "4000", "4.2"),
        ("SELL", "2", "4030", "4.2"),
    ]
    # Exit: (4,030 - 4,000) x 50 x 2 = 3,000, less the exit's 4.20 (the entry booked -4.20).
    assert [D(t["realized_pnl"]) for t in trades] == [D("-4.2"), D("2995.8")]
    equity = [D(row["equity"]) for row in _rows(out / "equity.csv")]
    # Equity = 100,000 + (close - 4,000) x 50 x 2 - 4.20 while held:
    # day 2 closes 4,010 -> +1,000; day 3 3,990.50 -> -950; day 4 4,025.25 -> +2,525;
    # day 5 sold at 4,030 -> 100,000 + 3,000 - 8.40, flat at the close.
    assert equity == [
        D(100000),
        D("100995.80"),
        D("99045.80"),
        D("102520.80"),
        D("102991.60"),
    ]
    gross = [D(row["gross_exposure"]) for row in _rows(out / "equity.csv")]
    assert gross == [D(0), D(401000), D(399050), D(402525), D(0)]
