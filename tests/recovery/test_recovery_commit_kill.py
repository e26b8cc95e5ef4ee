"""SIGKILL between an order's commit and its submit, and between a fill's receipt and its
commit, at each durability level: after a restart nothing is lost or sent twice.

The killed session runs in a child process (:mod:`commit_killer`); the restart runs
here, on the same journal, to the end of the feed, and must end exactly where one
uninterrupted session ends: the same orders and fills, no order id twice, the same cash.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import anyio
import msgspec
import pytest
from recovery_kit import Outcome, events, order_flow, repeated, run_session, session_config

from atrium.runtime.codec import decode
from atrium.runtime.messages import Fill, Order

_KILLER = Path(__file__).with_name("commit_killer.py")
#: The order, or the fill, at which the child dies: well inside the session's 40-odd.
NTH = 7


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Outcome]:
    """One session that is not killed: its journal and its final account."""
    journal = tmp_path_factory.mktemp("reference") / "journal.sqlite"
    # A module fixture runs outside the tests' event loop: its own run.
    return journal, anyio.run(run_session, session_config(journal))


def _kill(journal: Path, durability: str, point: str) -> None:
    child = subprocess.run(
        [sys.executable, str(_KILLER), str(journal), durability, point, str(NTH)],
        cwd=_KILLER.parent,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()


def _killed_at(journal: Path) -> Order | Fill:
    """The message the child died on (its bytes were written just before the kill)."""
    message = decode(journal.with_name(journal.name + ".killed-at").read_bytes())
    assert isinstance(message, Order | Fill)
    return message


def _unstamped(message: Order | Fill) -> Order | Fill:
    return msgspec.structs.replace(message, ts=0)


@pytest.mark.parametrize("durability", ["process", "power"])
@pytest.mark.parametrize(("point", "committed"), [("order", True), ("fill", False)])
async def test_run_when_killed_at_commit_point_then_restart_loses_and_repeats_nothing(
    uninterrupted: tuple[Path, Outcome],
    tmp_path: Path,
    durability: str,
    point: str,
    committed: bool,
) -> None:
    reference, expected = uninterrupted
    journal = tmp_path / "journal.sqlite"
    _kill(journal, durability, point)
    # The order was committed before the venue saw it; the fill was not yet committed.
    died_on = _killed_at(journal)
    assert type(died_on) is {"order": Order, "fill": Fill}[point]
    assert (died_on in [message for _, message in events(journal)]) is committed

    config = session_config(journal, extra={"journal": {"durability": durability}})
    outcome = await run_session(config)

    orders, fills = order_flow(journal)
    assert (orders, fills) == order_flow(reference)
    assert (orders + fills).count(_unstamped(died_on)) == 1
    assert len(orders) >= NTH and len(fills) >= NTH
    assert repeated([order.order_id for order in orders]) == []
    assert (outcome.cash, outcome.realized) == (expected.cash, expected.realized)
    assert outcome.positions == expected.positions
