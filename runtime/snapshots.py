"""Actor state to msgpack bytes and back, for recovery snapshots, without pickle.

A snapshot row is read from a file anyone could have written, so loading it must never
run code. The state is written as a tree of tagged msgpack arrays: containers, exact
``Decimal``\\ s, messages (as :func:`atrium.runtime.codec.encode` bytes), message classes (by
name) and objects of the classes declared with :func:`state_type`, attribute by
attribute. Loading rebuilds only those: a class that was not declared is refused
(:class:`~runtime.errors.SnapshotError`), never imported, and no constructor or
``__reduce__`` runs. An object, list, dict, set or deque referenced twice is written
once and shared again on load, as the actors held it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar

import msgspec

from atrium.runtime.codec import MESSAGE_TYPES, decode, encode
from atrium.runtime.errors import SnapshotError
from atrium.runtime.messages import Message

__all__ = ("SNAPSHOT_FORMAT_VERSION", "decode_states", "encode_states", "state_type")

#: Part of the snapshot fingerprint: snapshots of another format are not used.
#: 3: the ledger's books and positions carry their contract multiplier (``scale``).
#: 4: the ledger and risk's state machine hold the venue's net ``transfers``.
SNAPSHOT_FORMAT_VERSION: Final = 4

_T = TypeVar("_T", bound=type)
_TYPES: Final[dict[str, type]] = {}
_SCALARS: Final = (type(None), bool, int, float, str, bytes)
_MESSAGE_CLASSES: Final = frozenset(MESSAGE_TYPES.values())


def state_type(cls: _T) -> _T:
    """Declare ``cls`` as a class whose instances may be held in actor state.

    Its instance attributes (``__slots__`` or ``__dict__``) are snapshotted one by one
    and set back on an instance made without calling ``__init__``.
    """
    _TYPES[_type_name(cls)] = cls
    return cls


def _type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _attributes(obj: object) -> list[tuple[str, Any]]:
    names: list[str] = []
    for klass in reversed(type(obj).__mro__):
        slots = klass.__dict__.get("__slots__", ())
        names.extend([slots] if isinstance(slots, str) else slots)
    pairs = [(name, getattr(obj, name)) for name in names if hasattr(obj, name)]
    if hasattr(obj, "__dict__"):
        pairs.extend(vars(obj).items())
    return [(name, value) for name, value in pairs if name not in ("__dict__", "__weakref__")]


class _Encoder:
    def __init__(self) -> None:
        self._memo: dict[int, int] = {}

    def _remember(self, value: object) -> int | None:
        """A new memo index for ``value``, or None when it was written already."""
        key = id(value)
        if key in self._memo:
            return None
        index = self._memo[key] = len(self._memo)
        return index

    def node(self, value: Any) -> Any:
        if isinstance(value, _SCALARS):
            return value
        if isinstance(value, Decimal):
            return ["N", str(value)]
        if isinstance(value, tuple):
            return ["T", [self.node(item) for item in value]]
        if isinstance(value, frozenset):
            return ["F", [self.node(item) for item in value]]
        if isinstance(value, type) and value in _MESSAGE_CLASSES:
            return ["C", value.__name__]
        index = self._remember(value)
        if index is None:
            return ["R", self._memo[id(value)]]
        match value:
            case list():
                return ["L", index, [self.node(item) for item in value]]
            case dict():
                return ["D", index, [self.node(part) for item in value.items() for part in item]]
            case set():
                return ["S", index, [self.node(item) for item in value]]
            case deque():
                return ["Q", index, value.maxlen, [self.node(item) for item in value]]
            case Message():
                return ["M", index, encode(value)]
        name = _type_name(type(value))
        if _TYPES.get(name) is not type(value):
            raise SnapshotError(
                f"actor state holds a {name}, which is not a declared state type; "
                "decorate the class with runtime.snapshots.state_type"
            )
        flat = [part for pair in _attributes(value) for part in (pair[0], self.node(pair[1]))]
        return ["O", index, name, flat]


def encode_states(states: dict[str, dict[str, Any]]) -> bytes:
    """Every actor's state (by actor name) as snapshot bytes."""
    return msgspec.msgpack.encode(_Encoder().node(states))


class _Decoder:
    def __init__(self) -> None:
        self._memo: dict[int, Any] = {}
        self._tags: Final[dict[str, Callable[[list[Any]], Any]]] = {
            "N": self._decimal,
            "T": lambda args: tuple(self._items(args[0])),
            "F": lambda args: frozenset(self._items(args[0])),
            "C": self._message_class,
            "R": self._ref,
            "L": self._list,
            "D": self._dict,
            "S": lambda args: self._keep(args[0], set(self._items(args[1]))),
            "Q": self._deque,
            "M": lambda args: self._keep(args[0], decode(args[1])),
            "O": self._object,
        }

    def node(self, value: Any) -> Any:
        if isinstance(value, _SCALARS):
            return value
        if not isinstance(value, list) or not value or value[0] not in self._tags:
            raise SnapshotError(f"unexpected node {_short(value)}")
        return self._tags[value[0]](value[1:])

    def _items(self, values: Any) -> list[Any]:
        if not isinstance(values, list):
            raise SnapshotError(f"expected a list of items, got {_short(values)}")
        return [self.node(item) for item in values]

    def _keep(self, index: Any, value: Any) -> Any:
        if not isinstance(index, int) or index in self._memo:
            raise SnapshotError(f"bad or repeated memo index {_short(index)}")
        self._memo[index] = value
        return value

    def _decimal(self, args: list[Any]) -> Decimal:
        try:
            return Decimal(args[0])
        except (InvalidOperation, TypeError, IndexError):
            raise SnapshotError(f"not a decimal: {_short(args)}") from None

    def _message_class(self, args: list[Any]) -> type[Message]:
        cls = MESSAGE_TYPES.get(args[0]) if args and isinstance(args[0], str) else None
        if cls is None:
            raise SnapshotError(f"not a message class: {_short(args)}")
        return cls

    def _ref(self, args: list[Any]) -> Any:
        if not args or args[0] not in self._memo:
            raise SnapshotError(f"reference to an unknown object {_short(args)}")
        return self._memo[args[0]]

    def _list(self, args: list[Any]) -> list[Any]:
        items: list[Any] = self._keep(args[0], [])
        items.extend(self._items(args[1]))
        return items

    def _dict(self, args: list[Any]) -> dict[Any, Any]:
        mapping: dict[Any, Any] = self._keep(args[0], {})
        flat = self._items(args[1])
        mapping.update(zip(flat[::2], flat[1::2], strict=True))
        return mapping

    def _deque(self, args: list[Any]) -> deque[Any]:
        index, maxlen, items = args
        if maxlen is not None and not isinstance(maxlen, int):
            raise SnapshotError(f"bad deque maxlen {_short(maxlen)}")
        queue: deque[Any] = self._keep(index, deque(maxlen=maxlen))
        queue.extend(self._items(items))
        return queue

    def _object(self, args: list[Any]) -> object:
        index, name, flat = args
        cls = _TYPES.get(name) if isinstance(name, str) else None
        if cls is None:
            raise SnapshotError(f"{_short(name)} is not a declared state type")
        obj = self._keep(index, object.__new__(cls))
        values = self._items(flat)
        for attribute, value in zip(values[::2], values[1::2], strict=True):
            if not isinstance(attribute, str):
                raise SnapshotError(f"attribute name {_short(attribute)} of {name}")
            try:
                object.__setattr__(obj, attribute, value)
            except AttributeError:
                raise SnapshotError(f"{name} has no attribute {attribute!r}") from None
        return obj


def decode_states(payload: bytes) -> dict[str, dict[str, Any]]:
    """What :func:`encode_states` wrote; raises :class:`SnapshotError` on anything else."""
    try:
        tree = msgspec.msgpack.decode(payload)
        states = _Decoder().node(tree)
    except SnapshotError:
        raise
    except (msgspec.DecodeError, ValueError, TypeError, IndexError, RecursionError) as exc:
        raise SnapshotError(f"not a snapshot ({exc})") from None
    if not isinstance(states, dict) or not all(
        isinstance(name, str) and isinstance(state, dict) for name, state in states.items()
    ):
        raise SnapshotError("not a snapshot (expected a state per actor name)")
    return states


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
