"""Snapshots stay usable when the config moves with its data, and not when a feed changes."""

from __future__ import annotations

import shutil
from pathlib import Path

from atrium.config.loader import load_config
from atrium.runtime.recovery import fingerprint

_CONFIG = """
[[market_data.feeds]]
path = "data/aaa-daily.csv"
format = "auto"
"""


def _deployment(root: Path, content: bytes = b"Date,Open,High,Low,Close,Volume\n") -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "aaa-daily.csv").write_bytes(content)
    config = root / "atrium.toml"
    config.write_text(_CONFIG)
    return config


def test_fingerprint_when_config_moved_with_its_data_then_unchanged(tmp_path: Path) -> None:
    first = _deployment(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "elsewhere" / "b")
    moved = tmp_path / "elsewhere" / "b" / "atrium.toml"

    assert fingerprint(load_config(moved), "1") == fingerprint(load_config(first), "1")


def test_fingerprint_when_feed_content_changed_then_differs(tmp_path: Path) -> None:
    first = _deployment(tmp_path / "a")
    edited = _deployment(tmp_path / "b", b"Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,1,2,5\n")

    assert fingerprint(load_config(edited), "1") != fingerprint(load_config(first), "1")
