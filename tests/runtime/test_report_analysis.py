"""Benchmark and trade figures: hand-worked cases, then the NVDA run against empyrical.

empyrical (a test dependency only) and pandas recompute, from equity.csv, trades.csv and
the NVDA file itself, what the summary says; the runtime never imports them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import empyrical
import numpy as np
import pandas as pd
import pytest

from atrium.runtime.cli import main
from atrium.runtime.reports.analysis import (
    RoundTripTracker,
    longest_drawdown_days,
    monthly_returns,
    relative_figures,
    tally_trades,
    trade_figures,
)
from atrium.runtime.reports.stats import NS_PER_DAY

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.toml"
NVDA = ROOT / "config" / "data" / "nvda-1999-2014.csv"
D = Decimal
DAY = NS_PER_DAY


def _fill(time: str, side: str, quantity: str, pnl: str, symbol: str = "AAA") -> dict[str, str]:
    return {
        "time": time,
        "strategy": "s",
        "symbol": symbol,
        "side": side,
        "quantity": quantity,
        "realized_pnl": pnl,
    }


def test_round_trips_when_entry_exit_and_reversal_then_pnl_per_trip() -> None:
    rows = [
        _fill("2020-01-01T00:00:00Z", "BUY", "10", "-1"),  # commission 1 on entry
        _fill("2020-01-03T00:00:00Z", "SELL", "10", "49"),  # closes: 50 - 1
        _fill("2020-01-06T00:00:00Z", "SELL", "5", "-1"),  # a short from flat
        _fill("2020-01-08T00:00:00Z", "BUY", "10", "-21"),  # covers (-20 - 1), opens long 5
        _fill("2020-01-09T00:00:00Z", "SELL", "5", "9"),
        _fill("2020-01-10T00:00:00Z", "BUY", "3", "-1", symbol="BBB"),  # still open at the end
    ]
    tracker = RoundTripTracker()
    trips = [trip for trip in map(tracker.take, rows) if trip is not None]
    assert [(t.symbol, t.pnl, (t.exit_ts - t.entry_ts) // DAY) for t in trips] == [
        ("AAA", D(48), 2),
        ("AAA", D(-22), 2),
        ("AAA", D(9), 1),
    ]
    first, last = trips[0].entry_ts, trips[0].entry_ts + 10 * DAY
    tally, still_open = tally_trades(rows)
    figures = trade_figures(tally, still_open, first, last)
    assert figures["round_trips"] == 3
    assert figures["open_positions"] == 1
    assert figures["trade_win_rate"] == pytest.approx(2 / 3)
    assert figures["profit_factor"] == pytest.approx(57 / 22)
    assert figures["expectancy"] == "11.6666666667"  # 35 / 3
    assert figures["average_win"] == "28.5000000000"
    assert figures["largest_loss"] == "-22"
    assert figures["average_holding_days"] == pytest.approx(5 / 3)
    # Held 01-01..01-03, 01-06..01-09, 01-10..01-11 (the end): 2 + 3 + 1 of 10 days.
    assert figures["time_in_market"] == pytest.approx(0.6)


def test_longest_drawdown_when_peak_recovered_later_then_days_to_recovery() -> None:
    days = [i * DAY for i in range(6)]
    # Peak 110 on day 1, below it on days 2-4, back at 110 on day 5: four days.
    assert longest_drawdown_days(100.0, days, [105, 110, 100, 99, 108, 110]) == 4.0
    # Never recovered: from the peak to the last day.
    assert longest_drawdown_days(100.0, days[:4], [105, 110, 100, 99]) == 2.0


def test_monthly_returns_when_two_months_then_each_from_the_last_close_before() -> None:
    jan31 = 18292 * DAY  # 2020-01-31
    feb28 = jan31 + 28 * DAY  # 2020-02-28
    table = monthly_returns(100.0, [jan31, feb28], [110.0, 99.0])
    assert table["2020"][:3] == [pytest.approx(0.10), pytest.approx(-0.10), None]


def test_relative_figures_when_strategy_is_half_the_benchmark_then_beta_half() -> None:
    bench = [0.01, -0.02, 0.03, 0.0]
    figures = relative_figures([r / 2 for r in bench], bench, 0.0)
    assert figures["beta"] == pytest.approx(0.5)
    assert figures["alpha"] == pytest.approx(0.0, abs=1e-12)
    assert figures["correlation"] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def nvda_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nvda")
    assert main(["replay", "--config", str(EXAMPLE), "--out", str(out), "--no-progress"]) == 0
    return out


def _returns(out: Path) -> tuple[pd.Series, pd.Series]:
    equity = pd.read_csv(out / "equity.csv", parse_dates=["time"]).set_index("time")["equity"]
    prices = pd.read_csv(NVDA, parse_dates=["Date"]).set_index("Date")["Close"]
    equity.index = equity.index.tz_localize(None)
    strategy = pd.concat([pd.Series([100000.0]), equity.reset_index(drop=True)]).pct_change()
    strategy = strategy.iloc[1:].set_axis(equity.index)
    bench = prices.pct_change().fillna(0.0)
    return strategy, bench.loc[strategy.index]


def test_nvda_summary_when_checked_against_empyrical_then_agrees(nvda_run: Path) -> None:
    summary = json.loads((nvda_run / "summary.json").read_text())
    strategy, bench = _returns(nvda_run)
    assert summary["sharpe"] == pytest.approx(empyrical.sharpe_ratio(strategy), abs=1e-5)
    assert summary["sortino"] == pytest.approx(empyrical.sortino_ratio(strategy), abs=1e-5)
    assert summary["max_drawdown"] == pytest.approx(-empyrical.max_drawdown(strategy), abs=1e-6)
    assert summary["benchmark_return"] == pytest.approx(
        empyrical.cum_returns_final(bench), abs=1e-5
    )
    assert summary["benchmark_return"] == pytest.approx(20.049999 / 1.640625 - 1, abs=1e-5)
    assert summary["benchmark_sharpe"] == pytest.approx(empyrical.sharpe_ratio(bench), abs=1e-5)
    assert summary["benchmark_max_drawdown"] == pytest.approx(
        -empyrical.max_drawdown(bench), abs=1e-6
    )
    assert summary["beta"] == pytest.approx(empyrical.beta(strategy, bench), abs=1e-6)
    assert summary["alpha"] == pytest.approx(empyrical.alpha(strategy, bench), abs=1e-6)
    assert summary["correlation"] == pytest.approx(np.corrcoef(strategy, bench)[0, 1], abs=1e-6)
    assert summary["calmar"] == pytest.approx(summary["cagr"] / summary["max_drawdown"], rel=1e-4)
    monthly = empyrical.aggregate_returns(strategy, "monthly")
    for (year, month), value in monthly.items():
        assert summary["monthly_returns"][str(year)][month - 1] == pytest.approx(value, abs=1e-6)


def test_nvda_trade_figures_when_recomputed_from_trades_csv_then_agree(nvda_run: Path) -> None:
    """The example strategy is long only, one position at a time: trips are BUY, SELL pairs."""
    summary = json.loads((nvda_run / "summary.json").read_text())
    trades = pd.read_csv(nvda_run / "trades.csv", parse_dates=["time"], dtype={"realized_pnl": str})
    buys, sells = trades.iloc[0::2], trades.iloc[1::2]
    assert list(buys["side"].unique()) == ["BUY"] and list(sells["side"].unique()) == ["SELL"]
    pnl = [D(a) + D(b) for a, b in zip(buys["realized_pnl"], sells["realized_pnl"], strict=True)]
    wins = [p for p in pnl if p > 0]
    losses = [p for p in pnl if p <= 0]
    assert summary["round_trips"] == len(pnl) == 150
    assert summary["trade_win_rate"] == pytest.approx(len(wins) / len(pnl), abs=1e-6)
    assert summary["profit_factor"] == pytest.approx(float(sum(wins) / -sum(losses)), abs=1e-6)
    assert D(summary["expectancy"]) == (sum(pnl) / len(pnl)).quantize(D("1e-10"))
    assert D(summary["largest_win"]) == max(wins)
    assert D(summary["largest_loss"]) == min(losses)
    held = (sells["time"].to_numpy() - buys["time"].to_numpy()) / np.timedelta64(1, "D")
    assert summary["average_holding_days"] == pytest.approx(held.mean(), abs=1e-6)
    assert D(summary["by_symbol"]["NVDA"]["net_pnl"]) == sum(pnl)
    # Buy-and-hold of NVDA made about +1,120 %; the strategy a fraction of it.
    assert summary["benchmark_return"] > 11 > summary["total_return"]
    # Longest drawdown, from the equity curve with pandas: peak to recovery in days.
    equity = pd.read_csv(nvda_run / "equity.csv", parse_dates=["time"]).set_index("time")["equity"]
    peak_time = equity.index.to_series().where(equity >= equity.cummax()).ffill()
    assert summary["longest_drawdown_days"] == (equity.index.to_series() - peak_time).max().days


def test_nvda_report_when_written_then_benchmark_heatmap_and_boxed_trades(nvda_run: Path) -> None:
    page = (nvda_run / "report.html").read_text()
    assert "buy and hold NVDA" in page  # the legend of the second line on the equity chart
    assert page.count("<polyline") == 5  # strategy, buy and hold, drawdown, exposure, limit
    assert "<h2>Monthly returns</h2>" in page
    # 2003-05: +10.05 %, the full green of a 10 % month.
    assert '<td style="background:rgb(100,255,100)">10.05 %</td>' in page
    assert '<div class="scroll"><table><tr><th>time</th>' in page
    assert "<td>1,122.10 %</td>" in page  # benchmark_return, readable
    assert "349.7679640135" not in page and "<td>349.77</td>" in page  # expectancy to cents


def test_nvda_report_when_years_of_data_then_no_empty_note_row_and_total_column(
    nvda_run: Path,
) -> None:
    page = (nvda_run / "report.html").read_text()
    assert "annualised_note" not in page  # None over 16 years: nothing to say, no empty row
    assert "<th>Dec</th><th>total</th></tr>" in page  # the year's compounded return
    assert "<th>year</th>" in page  # the row labels' column keeps its name


def test_time_in_market_when_spans_overlap_across_symbols_then_union_counted_once() -> None:
    """AAA held days 0-4, BBB days 2-8 (opened while AAA was held), AAA again days 6-7:
    the union is days 0-8, 8 of the 10 days, however the spans were folded on the way."""
    rows = [
        _fill("2020-01-01T00:00:00Z", "BUY", "1", "0"),
        _fill("2020-01-03T00:00:00Z", "BUY", "1", "0", symbol="BBB"),
        _fill("2020-01-05T00:00:00Z", "SELL", "1", "5"),
        _fill("2020-01-07T00:00:00Z", "BUY", "1", "0"),
        _fill("2020-01-08T00:00:00Z", "SELL", "1", "-2"),
        _fill("2020-01-09T00:00:00Z", "SELL", "1", "3", symbol="BBB"),
    ]
    tally, still_open = tally_trades(rows)
    assert still_open == []
    start = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000_000
    figures = trade_figures(tally, still_open, start, start + 10 * DAY)
    assert figures["time_in_market"] == pytest.approx(0.8)
    assert tally.breakdown("symbol") == {
        "AAA": {"round_trips": 2, "net_pnl": "3", "win_rate": 0.5},
        "BBB": {"round_trips": 1, "net_pnl": "3", "win_rate": 1.0},
    }
