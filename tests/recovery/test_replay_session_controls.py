"""``atrium replay --feed journal.sqlite`` replays the session, operator controls included.

A live-ish session (the service's pipeline on the wall clock over a synthetic feed, as
in the recovery tests) runs beside an operator who halts, reduces, flattens and resumes
while the strategy trades. Replaying its journal must apply each control at its place
between the market data, so the replay makes the session's orders, fills and refusals.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import msgspec
import pytest
from recovery_kit import events, run_session, session_toml

from atrium.config.loader import load_config
from atrium.runtime.actor import Actor
from atrium.runtime.cli import main
from atrium.runtime.codec import encode
from atrium.runtime.messages import Control, Fill, Message, Order, OrderDenied

_COMMANDS = ("halt", "resume", "reduce_only", "flatten", "resume")

_OPERATOR = f"""
[topology.actors.operator]
class = "{__name__}:Operator"
"""


class Operator(Actor):
    """A second source: controls every few milliseconds while the feed is sent, 20 in all."""

    async def run(self) -> None:
        for index in range(20):
            await anyio.sleep(0.002)
            command = _COMMANDS[index % len(_COMMANDS)]
            await self.send(Control(ts=self.clock.now_ns(), command=command, reason="drill"))


def _write_config(path: Path, journal: Path, *, operator: bool) -> Path:
    path.write_text(session_toml(journal, tail=_OPERATOR if operator else ""))
    return path


def _flow(journal: Path) -> list[Message]:
    """Orders, fills, refusals and controls in journal order, their timestamps zeroed."""
    return [
        msgspec.structs.replace(message, ts=0)
        for _, message in events(journal)
        if isinstance(message, Order | Fill | OrderDenied | Control)
    ]


def _session(tmp_path: Path, *, operator: bool) -> Path:
    """Run the live-ish session; return its journal."""
    journal = tmp_path / "session.sqlite"
    config = load_config(_write_config(tmp_path / "live.toml", journal, operator=operator))
    anyio.run(run_session, config)
    return journal


def _replay(tmp_path: Path, feed: Path, out: str) -> Path:
    """``atrium replay --feed`` of the session's journal, without the operator actor."""
    config = _write_config(tmp_path / "replay.toml", tmp_path / "unused.sqlite", operator=False)
    argv = ["replay", "--config", str(config), "--feed", str(feed), "--out", str(tmp_path / out)]
    assert main(argv) == 0
    return tmp_path / out / "journal.sqlite"


def test_replay_when_session_journal_holds_controls_then_same_orders_fills_and_denials(
    tmp_path: Path,
) -> None:
    session = _session(tmp_path, operator=True)
    recorded = _flow(session)
    kinds = {type(message).__name__ for message in recorded}
    assert {"Control", "Order", "Fill", "OrderDenied"} <= kinds  # the operator mattered

    replayed = _replay(tmp_path, session, "replay")

    assert _flow(replayed) == recorded


@pytest.mark.parametrize("operator", [True, False], ids=["controls", "no-controls"])
def test_replay_when_session_journal_replayed_twice_then_byte_identical(
    tmp_path: Path, operator: bool
) -> None:
    session = _session(tmp_path, operator=operator)

    first, second = (_replay(tmp_path, session, name) for name in ("first", "second"))

    assert [encode(m) for _, m in events(first)] == [encode(m) for _, m in events(second)]
