"""Closed order ids: exact membership, in runs that merge as neighbours close."""

from __future__ import annotations

import pickle

from atrium.actors.execution.closed_ids import ClosedIds


def test_add_when_numbered_ids_close_in_order_then_one_run_holds_them_all() -> None:
    closed = ClosedIds()
    for number in range(1, 100_001):
        closed.add(f"ord-{number:08d}")
    assert len(closed) == 100_000
    assert closed.runs == 1
    assert "ord-00000001" in closed
    assert "ord-00100000" in closed
    assert "ord-00100001" not in closed
    assert "ord-00000000" not in closed


def test_add_when_a_gap_fills_then_runs_on_both_sides_merge() -> None:
    closed = ClosedIds()
    for order_id in ("o1", "o2", "o5", "o4"):
        closed.add(order_id)
    assert closed.runs == 2  # 1..2 and 4..5
    assert "o3" not in closed
    closed.add("o3")
    assert closed.runs == 1
    assert all(f"o{n}" in closed for n in range(1, 6))
    assert len(closed) == 5


def test_contains_when_same_number_other_padding_or_prefix_then_a_different_id() -> None:
    closed = ClosedIds()
    closed.add("o007")
    assert "o007" in closed
    assert "o7" not in closed
    assert "o07" not in closed
    assert "p007" not in closed


def test_add_when_id_has_no_numeric_tail_then_kept_as_it_is() -> None:
    closed = ClosedIds()
    closed.add("manual-a")
    closed.add("manual-a")
    assert "manual-a" in closed
    assert "manual-b" not in closed
    assert len(closed) == 1
    assert 17 not in closed


def test_pickle_when_restored_then_same_membership() -> None:
    closed = ClosedIds()
    for order_id in ("o1", "o2", "o9", "x"):
        closed.add(order_id)
    restored = pickle.loads(pickle.dumps(closed))
    assert [i in restored for i in ("o1", "o2", "o3", "o9", "x", "y")] == [
        True,
        True,
        False,
        True,
        True,
        False,
    ]
