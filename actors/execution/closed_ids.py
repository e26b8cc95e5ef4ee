"""The ids of closed orders, in memory that grows with the gaps between them, not their count.

The execution actor must refuse an order id it has seen before and tell "already closed"
from "unknown" for as long as it runs; a replay of ten million bars closes more than a
million orders. Portfolio order ids are a prefix and a zero-padded counter
(``[portfolio].order_id_prefix``), so closed ids are kept as runs of consecutive numbers
per prefix and digit count: orders close in about the order they were made, and a run
of a million closed orders is two integers. An id without a numeric tail is kept as it is.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Final

from atrium.runtime.snapshots import state_type

__all__ = ("ClosedIds",)

_DIGITS: Final = "0123456789"


def _split(order_id: str) -> tuple[tuple[str, int], int] | None:
    """``((prefix, digit count), number)`` of an id with a numeric tail, else None."""
    prefix = order_id.rstrip(_DIGITS)
    width = len(order_id) - len(prefix)
    if not width:
        return None
    return (prefix, width), int(order_id[len(prefix) :])


@state_type
class _Runs:
    """Sorted, disjoint, non-adjacent runs of integers, ``starts[i]..ends[i]`` inclusive."""

    __slots__ = ("ends", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def __contains__(self, number: int) -> bool:
        index = bisect_right(self.starts, number) - 1
        return index >= 0 and number <= self.ends[index]

    def add(self, number: int) -> bool:
        """Take ``number`` in; False when it was already held."""
        starts, ends = self.starts, self.ends
        index = bisect_right(starts, number) - 1
        if index >= 0 and number <= ends[index]:
            return False
        joins_left = index >= 0 and ends[index] == number - 1
        joins_right = index + 1 < len(starts) and starts[index + 1] == number + 1
        if joins_left and joins_right:
            ends[index] = ends[index + 1]
            del starts[index + 1], ends[index + 1]
        elif joins_left:
            ends[index] = number
        elif joins_right:
            starts[index + 1] = number
        else:
            starts.insert(index + 1, number)
            ends.insert(index + 1, number)
        return True


@state_type
class ClosedIds:
    """A set of order ids that only grows (``add``, ``in``, ``len``)."""

    __slots__ = ("_count", "_other", "_runs")

    def __init__(self) -> None:
        # By (prefix, digit count): "o7" and "o07" are different ids.
        self._runs: dict[tuple[str, int], _Runs] = {}
        self._other: set[str] = set()
        self._count = 0

    def add(self, order_id: str) -> None:
        split = _split(order_id)
        if split is None:
            if order_id not in self._other:
                self._other.add(order_id)
                self._count += 1
            return
        key, number = split
        runs = self._runs.get(key)
        if runs is None:
            runs = self._runs[key] = _Runs()
        if runs.add(number):
            self._count += 1

    def __contains__(self, order_id: object) -> bool:
        if not isinstance(order_id, str):
            return False
        split = _split(order_id)
        if split is None:
            return order_id in self._other
        runs = self._runs.get(split[0])
        return runs is not None and split[1] in runs

    def __len__(self) -> int:
        return self._count

    @property
    def runs(self) -> int:
        """How many runs and loose ids are held: the memory this costs."""
        return sum(len(runs.starts) for runs in self._runs.values()) + len(self._other)
