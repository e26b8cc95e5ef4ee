"""``[market_data] start/end``: a replay restricted to a time window (walk-forward windows)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from atrium.config.loader import ConfigError, parse_config
from atrium.runtime.replay import ReplayOptions, run_replay

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _config(**window: str) -> dict[str, object]:
    feed = {"path": str(DATA / "nvda-1999-2014.txt"), "symbol": "NVDA"}
    return {"market_data": {"feeds": [feed], **window}}


def test_replay_sends_only_the_bars_inside_the_window(tmp_path: Path) -> None:
    config = parse_config(_config(start="2004-01-01", end="2004-02-01"))
    summary = anyio.run(run_replay, config, ReplayOptions(out_dir=tmp_path))
    # January 2004 had 20 trading days: the 2nd (a Friday) to the 30th.
    assert summary["bars"] == 20
    assert summary["first_timestamp"].startswith("2004-01-02")
    assert summary["last_timestamp"].startswith("2004-01-30")
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["bars"] == 20


def test_window_keys_are_validated_by_name() -> None:
    with pytest.raises(ConfigError, match=r"market_data\.start: expected an ISO date"):
        parse_config(_config(start="last tuesday"))
    with pytest.raises(ConfigError, match=r"market_data\.end: must be after start"):
        parse_config(_config(start="2004-01-01", end="2003-01-01"))
    assert parse_config(_config(start="2004-01-01T00:00:00+05:00")).market_data.start_ns == (
        1_072_897_200_000_000_000
    )
