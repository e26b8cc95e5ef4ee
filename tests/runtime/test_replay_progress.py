"""The replay's progress bar: percent, records/s and time left on a terminal; nothing off one."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import pytest
from rich.console import Console

from atrium.runtime.cli import main
from atrium.runtime.progress import ReplayProgress

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.toml"


def _terminal() -> tuple[Console, io.StringIO]:
    screen = io.StringIO()
    return Console(file=screen, force_terminal=True, width=120, color_system=None), screen


def _last_bar(screen: io.StringIO) -> str:
    """The bar as last drawn (rich redraws it in place on one line)."""
    drawn = [line for line in screen.getvalue().splitlines() if "records" in line]
    return drawn[-1].removeprefix("\x1b[2K")


def test_progress_when_total_known_then_shows_percent_rate_and_time_left() -> None:
    console, screen = _terminal()

    with ReplayProgress(console) as bar:
        bar.update(500, 1_000, 2.0)

    last = _last_bar(screen)
    assert "50%" in last
    assert "500 records        250/s 0:00:02 left" in last


def test_progress_when_total_unknown_then_no_percent_and_no_time_left() -> None:
    console, screen = _terminal()

    with ReplayProgress(console) as bar:
        bar.update(10, None, 1.0)

    last = _last_bar(screen)
    assert "%" not in last
    assert last.endswith("10 records         10/s -:--:-- left")


def test_progress_when_a_log_line_is_written_then_it_prints_above_the_bar(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console, screen = _terminal()
    # As atrium's logging set-up installs it (made here: pytest swaps stderr per phase).
    handler = logging.StreamHandler(sys.stderr)
    logging.getLogger().addHandler(handler)
    try:
        with ReplayProgress(console) as bar:
            bar.update(1, 2, 1.0)
            logging.getLogger("atrium.test").warning("a log line")
            bar.update(2, 2, 1.0)
    finally:
        logging.getLogger().removeHandler(handler)

    assert handler.stream is sys.stderr  # given back
    assert capsys.readouterr().err == ""  # not written under the bar's feet
    assert "\x1b[2Ka log line" in screen.getvalue().replace("\r", "\n").splitlines()
    assert "100%" in _last_bar(screen)


def test_replay_when_stderr_not_a_terminal_then_nothing_extra_is_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"

    assert (
        main(["--log-level", "WARNING", "replay", "--config", str(EXAMPLE), "--out", str(out)]) == 0
    )

    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.endswith(
        f"\nwrote journal.sqlite, trades.csv, equity.csv, summary.json, report.html to {out}\n"
    )
