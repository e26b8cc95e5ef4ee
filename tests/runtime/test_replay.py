"""``atrium replay`` end to end over the bundled NVDA file: outputs, determinism, the numbers.

The summary is checked against an independent calculation from ``trades.csv``,
``equity.csv`` and the input file itself.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
import sqlite3
from contextlib import closing
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from atrium.runtime.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.toml"
NVDA = ROOT / "config" / "data" / "nvda-1999-2014.csv"
D = Decimal


def _replay(out: Path, *extra: str) -> dict[str, object]:
    assert (
        main(["replay", "--config", str(EXAMPLE), "--out", str(out), "--no-progress", *extra]) == 0
    )
    return json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("replay")
    _replay(out)
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_replay_when_example_config_then_every_output_written(run_dir: Path) -> None:
    for name in ("journal.sqlite", "trades.csv", "equity.csv", "summary.json", "report.html"):
        assert (run_dir / name).stat().st_size > 0, name
    html = (run_dir / "report.html").read_text()
    assert html.count("<svg") == 3
    # Self-contained: nothing fetched from anywhere (XML namespaces are names, not fetches).
    assert re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html) == []
    assert "<script" not in html
    assert "<link" not in html


def test_replay_when_run_twice_then_trades_and_order_flow_byte_identical(
    run_dir: Path, tmp_path: Path
) -> None:
    _replay(tmp_path)
    assert (tmp_path / "trades.csv").read_bytes() == (run_dir / "trades.csv").read_bytes()
    assert (tmp_path / "equity.csv").read_bytes() == (run_dir / "equity.csv").read_bytes()
    query = (
        "SELECT seq, kind, payload FROM events WHERE kind IN "
        "('OrderIntent', 'SizedOrder', 'Order', 'OrderDenied', 'OrderUpdate', 'Fill') ORDER BY seq"
    )
    with (
        closing(sqlite3.connect(run_dir / "journal.sqlite")) as first,
        closing(sqlite3.connect(tmp_path / "journal.sqlite")) as second,
    ):
        rows = first.execute(query).fetchall()
        assert rows == second.execute(query).fetchall()
    assert len(rows) > 500


def test_summary_when_recomputed_from_csv_outputs_then_figures_agree(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    trades = _rows(run_dir / "trades.csv")
    equity = _rows(run_dir / "equity.csv")
    bars = _rows(NVDA)

    # Every bar of the file is one equity row; the feed had no bad rows.
    assert summary["bars"] == len(bars) == len(equity) == 4012
    assert summary["rejected_records"] == {}
    assert summary["fills"] == len(trades)
    assert summary["orders"] == len({row["order_id"] for row in trades})

    # Cash: initial capital plus sales minus purchases minus commissions.
    initial = D(summary["initial_equity"])
    cash = initial
    position = D(0)
    for row in trades:
        notional = D(row["quantity"]) * D(row["price"])
        sign = 1 if row["side"] == "BUY" else -1
        cash -= sign * notional + D(row["commission"])
        position += sign * D(row["quantity"])
    last = equity[-1]
    assert D(last["cash"]) == cash
    # Equity: cash plus the open position at the last close.
    last_close = D(bars[-1]["Close"])
    assert D(last["equity"]) == cash + position * last_close
    assert D(summary["final_equity"]) == D(last["equity"])
    assert summary["total_return"] == pytest.approx(
        float(D(last["equity"]) / initial - 1), abs=1e-6
    )

    # Max drawdown from the equity column.
    peak, worst = -math.inf, 0.0
    for row in equity:
        value = float(row["equity"])
        peak = max(peak, value)
        worst = max(worst, (peak - value) / peak)
    assert summary["max_drawdown"] == pytest.approx(worst, abs=1e-6)

    # Sharpe from daily closes (one row a day here), sample stdev, sqrt(252).
    closes = [float(initial)] + [float(row["equity"]) for row in equity]
    returns = [b / a - 1 for a, b in itertools.pairwise(closes)]
    mean = sum(returns) / len(returns)
    stdev = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    assert summary["sharpe"] == pytest.approx(mean / stdev * math.sqrt(252), rel=1e-4)
    years = (date(2014, 12, 31) - date(1999, 1, 22)).days / 365.25
    assert summary["cagr"] == pytest.approx((closes[-1] / closes[0]) ** (1 / years) - 1, rel=1e-4)

    # Win rate over closing fills, by the PnL each realized.
    closing_fills = [row for row in trades if row["tag"] != "entry"]
    wins = sum(D(row["realized_pnl"]) > 0 for row in closing_fills)
    assert summary["closing_fills"] == len(closing_fills)
    assert summary["win_rate"] == pytest.approx(wins / len(closing_fills), abs=1e-6)


def test_trades_when_entry_sized_by_atr_risk_then_explanation_reconciles(run_dir: Path) -> None:
    first = _rows(run_dir / "trades.csv")[0]
    assert first["sizing_mode"] == "fixed_risk_atr"
    # risk budget 1 % of equity, stop distance 2 x ATR, round-trip commission 2 x 0.005/share
    budget = D(first["sizing_equity"]) * D("0.01")
    per_share = D(first["stop_distance"]) + 2 * D("0.005")
    assert D(first["raw_quantity"]) == (budget / per_share).to_integral_value(
        rounding="ROUND_FLOOR"
    )
    assert D(first["stop_distance"]) == 2 * D(first["atr"])
    assert first["quantity"] == first["final_quantity"]


def test_replay_when_feed_given_on_command_line_then_it_replaces_the_config_feed(
    tmp_path: Path,
) -> None:
    short = tmp_path / "nvda-short.csv"
    lines = NVDA.read_text().splitlines()
    short.write_text("\n".join(lines[:201]) + "\n")
    summary = _replay(tmp_path / "out", "--feed", str(short))
    assert summary["bars"] == 200


def test_replay_when_journal_given_as_feed_then_same_orders_and_fills(
    run_dir: Path, tmp_path: Path
) -> None:
    _replay(tmp_path, "--feed", str(run_dir / "journal.sqlite"))
    assert (tmp_path / "trades.csv").read_bytes() == (run_dir / "trades.csv").read_bytes()


def test_replay_when_out_dir_is_the_feed_journal_then_refuses(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "replay",
            "--config",
            str(EXAMPLE),
            "--out",
            str(run_dir),
            "--feed",
            str(run_dir / "journal.sqlite"),
            "--no-progress",
        ]
    )
    assert code == 2
    assert capsys.readouterr().err == (
        f"atrium: error: --out {run_dir} would overwrite the feed {run_dir / 'journal.sqlite'}; "
        "choose another output directory\n"
    )


def test_replay_when_feed_missing_then_previous_outputs_kept(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    before = {}
    for name in ("journal.sqlite", "trades.csv", "equity.csv", "summary.json", "report.html"):
        before[name] = (run_dir / name).read_bytes()
        (out / name).write_bytes(before[name])
    missing = tmp_path / "nvda-typo.csv"
    args = ["--out", str(out), "--feed", str(missing), "--no-progress"]
    code = main(["replay", "--config", str(EXAMPLE), *args])
    assert code == 1
    assert capsys.readouterr().err.endswith(
        f"{missing}: cannot open feed: No such file or directory\n"
    )
    assert {name: (out / name).read_bytes() for name in before} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no partial directory left


def test_replay_when_out_cannot_be_created_then_one_line_naming_it_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = blocker / "out"
    code = main(["replay", "--config", str(EXAMPLE), "--out", str(out), "--no-progress"])
    assert code == 2
    assert capsys.readouterr().err == (
        f"atrium: error: --out {out}: cannot write there (Not a directory); "
        "choose a writable directory\n"
    )


def test_summary_when_feed_spans_under_a_day_then_annualised_figures_null_with_a_note(
    tmp_path: Path,
) -> None:
    one_bar = tmp_path / "nvda-one-bar.csv"
    one_bar.write_text("\n".join(NVDA.read_text().splitlines()[:2]) + "\n")
    summary = _replay(tmp_path / "out", "--feed", str(one_bar))
    assert summary["bars"] == 1
    assert {
        key: summary[key] for key in ("cagr", "volatility", "sharpe", "sortino")
    } == dict.fromkeys(("cagr", "volatility", "sharpe", "sortino"))
    assert summary["annualised_note"] == "under one day of data"
