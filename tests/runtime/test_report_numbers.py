"""Figures shown to a person: money to cents, percent as percent, ratios to 2-4 places."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from atrium.runtime.replay import format_summary
from atrium.runtime.reports.numbers import show, show_money, show_percent, show_ratio


def test_show_money_when_many_digits_then_cents_with_thousands() -> None:
    assert show_money("102177.8988910670") == "102,177.90"
    assert show_money(Decimal("-24.865")) == "-24.86"  # half-even, as accounts round
    assert show_money("100000") == "100,000.00"


def test_show_percent_and_ratio_when_floats_then_short() -> None:
    assert show_percent(0.021779) == "2.18 %"
    assert show_percent(-0.154082) == "-15.41 %"
    assert show_ratio(1.234567) == "1.23"
    assert show_ratio(0.047479) == "0.0475"  # a small ratio keeps 4 places, not "0.05"


def test_show_when_summary_keys_then_by_kind() -> None:
    assert show("final_equity", "102177.8988910670") == "102,177.90"
    assert show("max_drawdown", 0.154082) == "15.41 %"
    assert show("sharpe", 0.74123) == "0.74"
    assert show("bars", 5036) == "5,036"
    assert show("bars_per_second", 27965.933739) == "27,966"
    assert show("wall_seconds", 0.180076) == "0.18 s"
    assert show("annualised_note", None) == ""


def test_format_summary_when_replay_summary_then_readable_lines() -> None:
    summary = {
        "initial_equity": "100000",
        "final_equity": "102177.8988910670",
        "total_return": 0.021779,
        "sharpe": 0.047479,
        "annualised_note": None,
        "denials_by_reason": {},
        "bars": 5036,
    }
    assert format_summary(summary, Path("out")).splitlines() == [
        "replay summary",
        "  initial_equity         100,000.00",
        "  final_equity           102,177.90",
        "  total_return           2.18 %",
        "  sharpe                 0.0475",
        "  annualised_note        None",
        "  denials_by_reason      none",
        "  bars                   5,036",
        "wrote journal.sqlite, trades.csv, equity.csv, summary.json, report.html to out",
    ]
