"""Recovery rebuilds the account exactly from a journal cut anywhere (in-process sessions).

The reference is one uninterrupted session over the feed. Every other session starts on
a copy of its journal cut at some ``seq`` (what a kill leaves), recovers, sends the rest
of the feed and must end with the same cash, realized PnL and positions, the same
orders and fills, and no order id twice.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import msgspec
import pytest
from recovery_kit import (
    Outcome,
    cut,
    events,
    first_seq,
    order_flow,
    repeated,
    run_session,
    session_config,
)
from recovery_witness import Witness

from atrium.config.schema import AtriumConfig
from atrium.config.topology import default_actors
from atrium.runtime.messages import Bar, Control, Message, Order
from atrium.runtime.recovery import RecoveryError, fingerprint
from atrium.runtime.version import atrium_version


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Outcome]:
    """The uninterrupted session: its journal and its final account."""
    path = tmp_path_factory.mktemp("reference") / "journal.sqlite"
    outcome = _run(session_config(path))
    return path, outcome


def _run(config: object) -> Outcome:
    import anyio  # noqa: PLC0415 -- a fixture at module scope runs outside the test loop

    return anyio.run(run_session, config)


def _assert_same_account(outcome: Outcome, expected: Outcome) -> None:
    assert (outcome.cash, outcome.realized, outcome.positions) == (
        expected.cash,
        expected.realized,
        expected.positions,
    )


def test_reference_when_run_then_it_trades_both_symbols(reference: tuple[Path, Outcome]) -> None:
    path, outcome = reference
    orders, fills = order_flow(path)
    # A recovery test over a session that never traded would prove nothing.
    assert len(orders) >= 20
    assert len(fills) >= 20
    assert {order.symbol for order in orders} == {"AAA", "BBB"}
    assert outcome.report is None


def _unstamped(message: Message) -> Message:
    return msgspec.structs.replace(message, ts=0)


def _cut_points(path: Path) -> list[int]:
    """Right after the first intent, order and fill, and eight seeded random points."""
    last = events(path)[-1][0]
    chosen = {first_seq(path, kind) for kind in ("OrderIntent", "SizedOrder", "Order", "Fill")}
    chosen.update(random.Random(7).sample(range(1, last), 8))
    return sorted(chosen)


async def test_recover_when_journal_cut_anywhere_then_account_and_order_flow_as_uninterrupted(
    reference: tuple[Path, Outcome], tmp_path: Path
) -> None:
    path, expected = reference
    expected_orders, expected_fills = order_flow(path)
    for point in _cut_points(path):
        journal = tmp_path / f"cut-{point}.sqlite"
        cut(path, journal, point)

        outcome = await run_session(session_config(journal))

        orders, fills = order_flow(journal)
        assert outcome.report is not None
        assert (point, outcome.report.replayed) == (point, point)
        _assert_same_account(outcome, expected)
        assert (point, orders, fills) == (point, expected_orders, expected_fills)
        assert repeated([order.order_id for order in orders]) == []


async def test_recover_when_cut_inside_an_order_flow_then_its_rest_is_appended_once(
    reference: tuple[Path, Outcome], tmp_path: Path
) -> None:
    path, _ = reference
    point = first_seq(path, "OrderIntent")  # the intent is in, the sized order and order not
    journal = tmp_path / "cut.sqlite"
    cut(path, journal, point)

    outcome = await run_session(session_config(journal))

    recorded = events(journal)
    assert outcome.report is not None
    # What the rest of that bar caused, up to the next bar, was appended by recovery: the
    # same messages, stamped with the time of the last recorded event (not wall time).
    reference_events = events(path)
    next_bar = next(s for s, m in reference_events if s > point and isinstance(m, Bar))
    assert outcome.report.appended == next_bar - point - 1
    assert [m for s, m in recorded if s <= point] == [m for s, m in reference_events if s <= point]
    appended = [m for s, m in recorded if point < s < next_bar]
    assert [_unstamped(m) for m in appended] == [
        _unstamped(m) for s, m in reference_events if point < s < next_bar
    ]
    assert {m.ts for m in appended} == {reference_events[point - 1][1].ts}


async def test_recover_when_snapshots_then_same_account_from_fewer_events(
    reference: tuple[Path, Outcome], tmp_path: Path
) -> None:
    path, expected = reference
    full = tmp_path / "with-snapshots.sqlite"
    first = await run_session(session_config(full, snapshot_every=300))
    last = events(full)[-1][0]
    with closing(sqlite3.connect(full)) as db:
        snapshot_seqs = [seq for (seq,) in db.execute("SELECT seq FROM snapshots ORDER BY seq")]
    assert len(snapshot_seqs) >= 3
    point = last - 150
    journal = tmp_path / "cut.sqlite"
    cut(full, journal, point)

    outcome = await run_session(session_config(journal, snapshot_every=300))

    newest = max(seq for seq in snapshot_seqs if seq <= point)
    assert outcome.report is not None
    assert (outcome.report.snapshot_seq, outcome.report.replayed) == (newest, point - newest)
    _assert_same_account(first, expected)
    _assert_same_account(outcome, expected)
    assert order_flow(journal) == order_flow(path)


async def test_recover_when_config_changed_then_error_names_the_first_different_event(
    reference: tuple[Path, Outcome], tmp_path: Path
) -> None:
    path, _ = reference
    journal = tmp_path / "journal.sqlite"
    cut(path, journal, events(path)[-1][0])
    before = journal.read_bytes()

    with pytest.raises(RecoveryError) as raised:
        await run_session(session_config(journal, fast=4))

    # Where a session under the new config first does something else than the journal.
    other = tmp_path / "other.sqlite"
    await run_session(session_config(other, fast=4))
    differs = next(
        seq
        for (seq, recorded), (_, rerun) in zip(events(path), events(other), strict=False)
        if _unstamped(recorded) != _unstamped(rerun)
    )
    message = str(raised.value)
    assert re.fullmatch(
        rf"{re.escape(str(journal))}: seq \d+: the re-run published .+ where the journal "
        r"holds .+; the journal was written by another configuration or Atrium version "
        r"\(or a clock-dependent decision went another way\), so the actors cannot be "
        r"rebuilt exactly\. Start with the configuration that wrote it, or move the journal "
        r"aside to start a new session",
        message,
    ) or re.fullmatch(
        rf"{re.escape(str(journal))}: seq \d+ holds a \w+ that the re-run did not publish; "
        r"the journal was written by another configuration or another Atrium version",
        message,
    ), message
    assert f": seq {differs}" in message
    assert journal.read_bytes() == before


async def test_recover_when_venue_disagrees_then_trading_halted_by_recovery(
    reference: tuple[Path, Outcome], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = reference
    journal = tmp_path / "journal.sqlite"
    cut(path, journal, events(path)[-1][0] // 2)
    from atrium.actors.execution.actor import ExecutionActor  # noqa: PLC0415

    monkeypatch.setattr(
        ExecutionActor, "reconcile", lambda self: ["order O-00000009 is open at the venue"]
    )

    outcome = await run_session(session_config(journal))

    assert outcome.report is not None
    assert outcome.report.discrepancies == ("order O-00000009 is open at the venue",)
    controls = [m for _, m in events(journal) if isinstance(m, Control)]
    assert [(c.command, c.source, c.reason) for c in controls] == [
        ("halt", "recovery", "RECONCILIATION: order O-00000009 is open at the venue")
    ]
    risk = outcome.pipeline.slots["risk"].actor
    assert risk is not None
    assert risk.status()["trading_state"] == "HALTED"  # type: ignore[attr-defined]
    halt_seq = next(s for s, m in events(journal) if isinstance(m, Control))
    assert [m for s, m in events(journal) if isinstance(m, Order) and s > halt_seq] == []


def _with_witness(journal: Path, durability: str = "process") -> AtriumConfig:
    actors = msgspec.to_builtins(default_actors())
    actors["witness"] = {
        "class": "recovery_witness:Witness",
        "section": "journal",
        "subscribes": ["Order", "Fill", "Control"],
    }
    extra = {"topology": {"actors": actors}, "journal": {"durability": durability}}
    return session_config(journal, extra=extra)


@pytest.mark.parametrize(
    ("durable", "durability", "all_committed"),
    [(True, "process", True), (True, "power", True), (False, "process", False)],
)
async def test_journal_when_durable_then_orders_and_fills_committed_before_any_actor_acts(
    tmp_path: Path, durable: bool, durability: str, all_committed: bool
) -> None:
    config = _with_witness(tmp_path / "journal.sqlite", durability)
    outcome = await run_session(config, durable=durable)

    witness = outcome.pipeline.slots["witness"].actor
    assert isinstance(witness, Witness)
    assert witness.checked >= 40
    # Without the barrier the same session acts on orders still in memory: the check bites.
    assert (witness.missing == []) is all_committed


class _Mkdir:
    """Unpickling this makes a directory: the marker that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (str(self.path),))


async def test_recover_when_snapshot_row_is_a_pickle_then_refused_as_damage_and_not_run(
    reference: tuple[Path, Outcome], tmp_path: Path
) -> None:
    path, _ = reference
    journal = tmp_path / "journal.sqlite"
    cut(path, journal, 50)
    config = session_config(journal)
    marker = tmp_path / "ran"
    with closing(sqlite3.connect(journal)) as db:
        db.execute(
            "INSERT INTO snapshots VALUES (?, ?, ?, ?)",
            (40, 0, fingerprint(config, atrium_version()), pickle.dumps({"x": _Mkdir(marker)})),
        )
        db.commit()

    with pytest.raises(
        RecoveryError,
        match=rf"^{re.escape(str(journal))}: the snapshot at seq 40 is damaged \(not a snapshot "
        r"\(.+\)\); it was not loaded\. Run `atrium journal salvage` on the journal \(it "
        r"copies the events, not the snapshots\) and start on the salvaged journal$",
    ):
        await run_session(config)

    assert not marker.exists()
