"""Merge several time-ordered feeds into one stream by timestamp (a k-way heap merge).

Stable: for equal timestamps the feed listed first comes first, and one feed's records
keep their order, so the merged order depends on the data and the config only.
"""

from __future__ import annotations

import heapq
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import TypeVar

from atrium.runtime.messages import Message

__all__ = ("merge_feeds",)

_Record = TypeVar("_Record", bound=Message)


def merge_feeds(
    feeds: Sequence[Iterable[_Record]],
) -> Generator[tuple[int, _Record], None, None]:
    """Yield ``(feed index, record)`` in timestamp order across ``feeds``.

    Each feed is read lazily, one record ahead, so memory stays constant. Every feed
    iterator is closed when the merge ends or is closed early.
    """
    iterators = [iter(feed) for feed in feeds]
    heap: list[tuple[int, int, _Record, Iterator[_Record]]] = []
    try:
        for index, iterator in enumerate(iterators):
            first = next(iterator, None)
            if first is not None:
                heap.append((first.ts, index, first, iterator))
        heapq.heapify(heap)
        while len(heap) > 1:
            _, index, record, iterator = heap[0]
            yield index, record
            following = next(iterator, None)
            if following is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (following.ts, index, following, iterator))
        if heap:
            _, index, record, iterator = heap[0]
            yield index, record
            for record in iterator:
                yield index, record
    finally:
        for iterator in iterators:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
