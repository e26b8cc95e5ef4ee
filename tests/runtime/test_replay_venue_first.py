"""Venue first: a bar is matched by the venue, and its fills settled, before a strategy sees it.

An order decided on bar t's close fills at bar t+1's open; in ``on_bar(t+1)`` the
strategy's position already includes that fill, so a long/flat strategy never acts on a
stale flat position and never doubles up.
"""

from __future__ import annotations

import csv
import tempfile
from decimal import Decimal
from pathlib import Path

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from atrium.config.loader import parse_config
from atrium.runtime.replay import ReplayOptions, run_replay

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _ema_cross_config(feed: Path, symbol: str, *, fast: int, slow: int) -> dict[str, object]:
    return {
        "market_data": {"feeds": [{"path": str(feed), "symbol": symbol}]},
        "strategies": {
            "ema": {
                "class": "atrium.actors.strategy.bundled.ema_cross:EmaCross",
                "symbols": [symbol],
                "params": {"fast": fast, "slow": slow, "quantity": 100},
            }
        },
        "portfolio": {"initial_capital": 1_000_000, "max_leverage": 1.0},
        "risk": {"price_band_pct": 1.0},
        "execution": {
            "market_fill": "next_open",
            "slippage_bps": 0,
            "commission_per_share": 0,
            "commission_min": 0,
        },
    }


def _replay_fills(
    feed: Path, symbol: str, out: Path, *, fast: int = 10, slow: int = 20
) -> list[dict[str, str]]:
    config = parse_config(_ema_cross_config(feed, symbol, fast=fast, slow=slow))
    anyio.run(run_replay, config, ReplayOptions(out_dir=out))
    with (out / "trades.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _assert_alternating(fills: list[dict[str, str]]) -> None:
    sides = [row["side"] for row in fills]
    assert sides[::2] == ["BUY"] * len(sides[::2])
    assert sides[1::2] == ["SELL"] * len(sides[1::2])
    # Each exit closes exactly the entry before it: never a double position, never short.
    quantities = [row["quantity"] for row in fills]
    assert quantities[1::2] == quantities[: len(quantities[1::2]) * 2 : 2]


def test_replay_when_ema_cross_on_nvda_then_november_2008_fills_match_a_next_open_engine(
    tmp_path: Path,
) -> None:
    fills = _replay_fills(DATA / "nvda-1999-2014.txt", "NVDA", tmp_path)

    november = [
        (row["time"][:10], row["side"], row["quantity"], row["price"])
        for row in fills
        if row["time"].startswith("2008-11")
    ]
    assert november == [
        ("2008-11-06", "BUY", "100", "8.01"),
        ("2008-11-07", "SELL", "100", "8.68"),
        ("2008-11-10", "BUY", "100", "9.05"),
        ("2008-11-12", "SELL", "100", "7.56"),
    ]
    _assert_alternating(fills)
    assert len(fills) == 165


def test_replay_when_ema_cross_on_one_minute_bars_then_fills_alternate_buy_sell(
    tmp_path: Path,
) -> None:
    fills = _replay_fills(DATA / "2006-01-02-volume-min-001.txt", "ES", tmp_path)

    assert len(fills) > 1500
    _assert_alternating(fills)


def _write_bars(path: Path, opens: list[int], closes: list[int]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Date", "Open", "High", "Low", "Close", "Volume"])
        for day, (open_, close) in enumerate(zip(opens, closes, strict=True)):
            high, low = max(open_, close) + 1, min(open_, close)
            writer.writerow(
                [f"2020-{1 + day // 28:02d}-{1 + day % 28:02d}", open_, high, low, close, 1000]
            )


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.integers(10, 60), st.integers(10, 60)), min_size=4, max_size=80).map(
        lambda pairs: ([o for o, _ in pairs], [c for _, c in pairs])
    )
)
def test_replay_when_any_bar_series_then_long_flat_fills_alternate_and_never_double_up(
    series: tuple[list[int], list[int]],
) -> None:
    opens, closes = series
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "bars.csv"
        _write_bars(feed, opens, closes)
        fills = _replay_fills(feed, "X", Path(tmp) / "out", fast=2, slow=3)

    _assert_alternating(fills)
    # Every fill is at the open of the bar after the one the order was decided on.
    by_date = {f"2020-{1 + d // 28:02d}-{1 + d % 28:02d}": opens[d] for d in range(len(opens))}
    for row in fills:
        assert Decimal(row["price"]) == by_date[row["time"][:10]]
