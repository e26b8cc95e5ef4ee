"""Recovery when inputs raced: operator controls sent while the feed's orders were committed.

A control from the HTTP API (or a second feed) is an input from another task. It enters
the dispatcher only once the input before it settled, commits included, so the journal's
order is the order of handling and every cut of it (what a SIGKILL leaves) recovers.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import anyio
import msgspec
from recovery_kit import cut, events, order_flow, repeated, run_session, session_config

from atrium.config.schema import AtriumConfig
from atrium.config.topology import default_actors
from atrium.runtime.actor import Actor
from atrium.runtime.messages import Control

CUTS = 20
_COMMANDS = ("halt", "resume", "reduce_only", "resume")


class Operator(Actor):
    """A second source: an operator sending controls every few milliseconds, 24 in all."""

    async def run(self) -> None:
        for index in range(24):
            await anyio.sleep(0.002)
            command = _COMMANDS[index % len(_COMMANDS)]
            await self.send(Control(ts=self.clock.now_ns(), command=command, reason="drill"))


def _config(journal: Path) -> AtriumConfig:
    actors: dict[str, Any] = {
        name: msgspec.to_builtins(spec) for name, spec in default_actors().items()
    }
    actors["operator"] = {"class": f"{__name__}:Operator"}
    return session_config(journal, extra={"topology": {"actors": actors}})


async def test_recover_when_controls_raced_the_feed_then_every_cut_recovers(
    tmp_path: Path,
) -> None:
    reference = tmp_path / "reference.sqlite"
    await run_session(_config(reference))
    recorded = events(reference)
    controls = [seq for seq, message in recorded if isinstance(message, Control)]
    orders, _ = order_flow(reference)
    assert len(controls) == 24 and len(orders) >= 3  # the race had something to race
    last = recorded[-1][0]
    for point in sorted(random.Random(3).sample(range(1, last), CUTS)):
        journal = tmp_path / f"cut-{point}.sqlite"
        cut(reference, journal, point)

        outcome = await run_session(_config(journal))

        assert outcome.report is not None
        assert (point, outcome.report.replayed) == (point, point)
        recovered_orders, _ = order_flow(journal)
        assert repeated([order.order_id for order in recovered_orders]) == []
