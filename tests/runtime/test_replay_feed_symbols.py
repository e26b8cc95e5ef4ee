"""``--feed PATH=SYMBOL`` and ``--symbol``: a file whose name is not the traded symbol.

The example config trades NVDA. ``orcl-1995-2014.txt`` read as ORCL feeds no strategy: the
run must say so, naming the feed, its symbol and what the strategies trade. Named NVDA
on the command line, the same file trades.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path

import pytest

from atrium.config.market_data import MarketDataConfig
from atrium.runtime.cli import main
from atrium.runtime.errors import UsageError
from atrium.runtime.replay_market import command_line_feeds, split_feed_argument, unfed_feeds

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.toml"
SHARED = Path("/work/shared/data")
NVDA = ROOT / "config" / "data" / "nvda-1999-2014.csv"


def _data(name: str, tmp_path: Path) -> Path:
    """A copy of a shared data file (the CSV bundled with the config stands in for NVDA)."""
    source = SHARED / name
    if not source.exists():
        pytest.skip(f"{source} not present")
    target = tmp_path / name
    shutil.copyfile(source, target)
    return target


def _trades(out: Path) -> list[dict[str, str]]:
    with (out / "trades.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _replay(out: Path, *extra: str) -> int:
    return main(["replay", "--config", str(EXAMPLE), "--out", str(out), "--no-progress", *extra])


def test_split_feed_argument_when_symbol_after_equals_then_path_and_symbol() -> None:
    assert split_feed_argument("data/orcl-1995-2014.txt=NVDA") == (
        "data/orcl-1995-2014.txt",
        "NVDA",
    )
    assert split_feed_argument("data/orcl-1995-2014.txt") == ("data/orcl-1995-2014.txt", None)
    # An '=' inside a directory name is part of the path.
    assert split_feed_argument("a=b/c.csv") == ("a=b/c.csv", None)


def test_command_line_feeds_when_symbols_given_then_matched_in_order() -> None:
    feeds = command_line_feeds(("a.csv", "b.csv=BBB"), ("AAA",))
    assert [(Path(f.path).name, f.feed_symbol) for f in feeds] == [
        ("a.csv", "AAA"),
        ("b.csv", "BBB"),
    ]


def test_command_line_feeds_when_more_symbols_than_feeds_then_usage_error() -> None:
    with pytest.raises(UsageError, match=r"--symbol: 2 given for 1 --feed"):
        command_line_feeds(("a.csv",), ("AAA", "BBB"))


def test_command_line_feeds_when_symbols_disagree_then_usage_error() -> None:
    with pytest.raises(UsageError, match=r"names symbol 'BBB', --symbol says 'AAA'"):
        command_line_feeds(("a.csv=BBB",), ("AAA",))


def test_unfed_feeds_when_symbol_not_traded_then_warning_names_feed_symbol_strategies() -> None:
    section = MarketDataConfig(feeds=command_line_feeds(("/x/orcl-1995-2014.txt",), ()))
    assert unfed_feeds(section, {"momentum": ["NVDA"]}) == [
        "feed orcl-1995-2014.txt carries symbol ORCL, which no strategy trades "
        "(momentum trades NVDA); it feeds no strategy. Name its symbol with "
        "--feed PATH=SYMBOL or symbol = ... in the config"
    ]
    assert unfed_feeds(section, {"momentum": ["ORCL"]}) == []


def test_replay_when_orcl_feed_named_by_file_then_warns_and_makes_no_trade(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    orcl = _data("orcl-1995-2014.txt", tmp_path)
    with caplog.at_level(logging.WARNING):
        assert _replay(tmp_path / "out", "--feed", str(orcl)) == 0
    assert _trades(tmp_path / "out") == []
    assert any(
        "feed orcl-1995-2014.txt carries symbol ORCL" in r.getMessage()
        and "momentum trades NVDA" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize(
    ("name", "how"),
    [("orcl-1995-2014.txt", "equals"), ("yhoo-1996-2014.txt", "option")],
)
def test_replay_when_feed_symbol_named_then_example_strategy_trades_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, how: str
) -> None:
    path = _data(name, tmp_path)
    args = (
        ["--feed", f"{path}=NVDA"] if how == "equals" else ["--feed", str(path), "--symbol", "NVDA"]
    )
    with caplog.at_level(logging.WARNING):
        assert _replay(tmp_path / "out", *args) == 0
    trades = _trades(tmp_path / "out")
    assert len(trades) > 10
    assert {row["symbol"] for row in trades} == {"NVDA"}
    assert not any("feeds no strategy" in r.getMessage() for r in caplog.records)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["final_equity"] != summary["initial_equity"]
