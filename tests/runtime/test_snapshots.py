"""Actor state to snapshot bytes and back: declared types only, no code run on load."""

from __future__ import annotations

import os
import pickle
import re
from collections import deque
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from atrium.actors.execution.orders import OrderBook
from atrium.actors.indicators import EMA
from atrium.actors.portfolio.ledger import Ledger
from atrium.runtime.errors import SnapshotError
from atrium.runtime.messages import Bar, Tick
from atrium.runtime.snapshots import decode_states, encode_states


class _Undeclared:
    def __init__(self) -> None:
        self.value = 1


class _Mkdir:
    """Unpickling this makes a directory: the marker that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (str(self.path),))


def test_round_trip_when_shared_objects_then_equal_values_and_shared_again() -> None:
    bar = Bar(
        ts=1,
        symbol="AAA",
        open=Decimal("1.10"),
        high=Decimal(2),
        low=Decimal(1),
        close=Decimal("1.5"),
        volume=Decimal(3),
    )
    ema = EMA(2)
    for price in (1.0, 2.0, 3.0):
        ema.update(price)
    shared: list[Any] = [bar]
    state = {
        "a": {
            "window": deque([1, 2], maxlen=5),
            "keys": {(Bar, "AAA"): (Decimal("0.10"), None)},
            "tags": {"x"},
            "ema": ema,
            "one": shared,
            "two": shared,
            "ledger": Ledger(Decimal("1000.00")),
            "book": OrderBook(),
        }
    }

    restored = decode_states(encode_states(state))["a"]

    assert restored["window"] == deque([1, 2]) and restored["window"].maxlen == 5
    assert restored["keys"] == {(Bar, "AAA"): (Decimal("0.10"), None)}
    assert str(restored["keys"][(Bar, "AAA")][0]) == "0.10"
    assert restored["tags"] == {"x"}
    assert (restored["ema"].value, restored["ema"].period) == (ema.value, 2)
    assert restored["one"] is restored["two"] and restored["one"] == [bar]
    assert restored["ledger"].cash == Decimal("1000.00")
    assert len(restored["book"]) == 0


def test_encode_when_state_holds_undeclared_class_then_error_names_it_and_the_fix() -> None:
    with pytest.raises(
        SnapshotError,
        match=rf"^actor state holds a {re.escape(_Undeclared.__module__)}\._Undeclared, which is "
        r"not a declared state type; decorate the class with runtime\.snapshots\.state_type$",
    ):
        encode_states({"a": {"x": _Undeclared()}})


def test_decode_when_payload_is_a_pickle_then_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = pickle.dumps({"a": {"x": _Mkdir(marker)}})

    with pytest.raises(SnapshotError, match=r"^not a snapshot \(.+\)$"):
        decode_states(payload)

    assert not marker.exists()


def test_decode_when_object_of_undeclared_type_then_refused() -> None:
    payload = msgspec.msgpack.encode(["D", 0, ["a", ["D", 1, ["x", ["O", 2, "os.system", []]]]]])

    with pytest.raises(SnapshotError, match=r"^'os\.system' is not a declared state type$"):
        decode_states(payload)


def test_decode_when_not_a_state_per_actor_then_refused() -> None:
    with pytest.raises(
        SnapshotError, match=r"^not a snapshot \(expected a state per actor name\)$"
    ):
        decode_states(msgspec.msgpack.encode(["L", 0, [1]]))


def test_round_trip_when_tick_message_then_same_message() -> None:
    tick = Tick(ts=5, symbol="B", price=Decimal("2.50"), size=Decimal(1))

    assert decode_states(encode_states({"a": {"t": tick}})) == {"a": {"t": tick}}
