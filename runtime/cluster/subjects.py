"""Which NATS subject a message travels on, and the filters a process consumes.

Market data is keyed by symbol (``<ns>.md.<symbol>``) and order flow by strategy
(``<ns>.intent.<strategy>``, ``<ns>.fill.<strategy>``), so a process that hosts some
strategies consumes exactly their symbols and their own fills. Kinds without either key
have one subject each (``<ns>.portfolio_snapshot``). The end of a replay is marked on
``<ns>.end``, and its release rounds on ``<ns>.held`` and ``<ns>.release``. A replay
whose roles read the feeds themselves starts on ``<ns>.start`` and keeps its roles in step
on ``<ns>.step.<role>`` and ``<ns>.done.<role>`` (see :mod:`atrium.runtime.cluster.steps`).

Market data goes to the venue first: the role that hosts the execution actor takes it
from ``<ns>.md.<symbol>`` and, once its fills are settled, passes it on under
``<ns>.mdv.<symbol>``, which every other role consumes. A strategy in another process
thus sees a bar after the fills at that bar's open, as it would in one process. Keys are escaped into one subject token (``BRK.B`` becomes ``BRK%2EB``).

Live with market data on plain subjects, a role that keeps the state of record (the
core) keeps the market data it takes on the stream, in batches, under
``<ns>.marks.<role>``, and handles it when it comes back (see
:mod:`atrium.runtime.cluster.marks`).

With several cores (one per account) in a namespace, the account-wide kinds (those keyed
by neither symbol nor strategy: snapshots, controls, trading state, a venue's reports)
carry the sending role's name (``<ns>.control.<role>``), so one core's never reach
another's; with one core they keep their one subject each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from atrium.runtime.codec import MESSAGE_TYPES
from atrium.runtime.messages import Bar, Message, Tick

__all__ = ("SubjectMap", "token")

_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_\-]")
_MARKET: Final = (Bar, Tick)


def token(key: str) -> str:
    """``key`` as one subject token: anything but letters, digits, ``_`` and ``-`` escaped."""
    return _UNSAFE.sub(lambda match: f"%{ord(match.group()):02X}", key)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _by_strategy(cls: type[Message]) -> bool:
    return "strategy" in cls.__struct_fields__


class SubjectMap:
    """The subjects of one namespace."""

    def __init__(self, namespace: str, *, origin: str | None = None) -> None:
        """``origin``: the role whose subjects these are, when the namespace has several
        cores: its account-wide kinds go out under its name and it takes only its own."""
        self.namespace = namespace
        self.origin = origin
        self.end = f"{namespace}.end"
        #: Replay: the portfolio's process holds what an event brings (``held``) until
        #: the driver lets it go (``release``), so it is handled in one order every run.
        self.held = f"{namespace}.held"
        self.release = f"{namespace}.release"
        #: Replay with local market data: the coordinator's go, and the core's and the
        #: strategy roles' step markers.
        self.start = f"{namespace}.start"
        self._step = f"{namespace}.step"
        self._done = f"{namespace}.done"
        self.stream_subjects = [f"{namespace}.>"]
        #: Market data after the venue has matched on it (see the module docstring).
        self.after_venue = f"{namespace}.mdv"
        self._marks = f"{namespace}.marks"
        self._base: dict[type[Message], str] = {}
        for kind, cls in MESSAGE_TYPES.items():
            name = "md" if cls in _MARKET else ("intent" if kind == "OrderIntent" else _snake(kind))
            self._base[cls] = f"{namespace}.{name}"

    @property
    def flow_subjects(self) -> list[str]:
        """The stream's subjects when market data travels on plain subjects (live) or not
        at all (a replay whose roles read the files): every kind but market data, the
        market data roles took (in batches), and the replay's markers (so a live run can
        refuse them). Never a replay's step subjects: a stream whose subjects matched them
        would store every step message as well."""
        subjects = {self.end, self.held, self.release, self.start, f"{self._marks}.*"}
        for cls, base in self._base.items():
            if cls not in _MARKET:
                subjects.add(f"{base}.*" if self._keyed(cls) else base)
        return sorted(subjects)

    def step(self, role: str) -> str:
        """Where the core tells strategy role ``role`` that it may go on (local replay)."""
        return f"{self._step}.{token(role)}"

    def done(self, role: str) -> str:
        """Where strategy role ``role`` tells the core how far it got (local replay)."""
        return f"{self._done}.{token(role)}"

    @property
    def done_all(self) -> str:
        """The filter of every strategy role's done subject (the core listens to it)."""
        return f"{self._done}.*"

    def marks(self, role: str) -> str:
        """Where ``role`` keeps the market data it took from plain subjects."""
        return f"{self._marks}.{token(role)}"

    def is_market(self, subject: str) -> bool:
        """Whether ``subject`` (or a filter) carries market data."""
        head = subject.split(".", 2)[1] if subject.count(".") >= 1 else ""
        return subject.startswith(f"{self.namespace}.") and head in ("md", "mdv")

    def subject(self, message: Message) -> str:
        """Where ``message`` is published."""
        cls = type(message)
        base = self._base[cls]
        if cls in _MARKET:
            return f"{base}.{token(message.symbol)}"  # type: ignore[attr-defined]
        if _by_strategy(cls):
            return f"{base}.{token(message.strategy)}"  # type: ignore[attr-defined]
        if self.origin is not None:
            return f"{base}.{token(self.origin)}"
        return base

    def _keyed(self, cls: type[Message]) -> bool:
        """Whether ``cls``'s subject has a last token (a strategy, or a core's name)."""
        return _by_strategy(cls) or self.origin is not None

    def passed_on(self, message: Bar | Tick) -> str:
        """Where the venue's role passes ``message`` on to the others."""
        return f"{self.after_venue}.{token(message.symbol)}"

    def filters(
        self,
        kinds: Iterable[type[Message]],
        *,
        symbols: Iterable[str] | None = None,
        strategies: Iterable[str] | None = None,
        after_venue: bool = False,
        own_account: bool = False,
    ) -> list[str]:
        """Subjects carrying ``kinds``, narrowed to ``symbols``/``strategies`` where given.

        ``None`` means all; the result is sorted, so a consumer's filter is the same in
        every process that computes it. ``after_venue``: market data as the venue's role
        passes it on, not as the source sent it. ``own_account`` (a core among several): the
        account-wide kinds of this map's own role only, not every role's.
        """
        wanted_symbols = None if symbols is None else sorted(set(symbols))
        wanted_strategies = None if strategies is None else sorted(set(strategies))
        subjects: set[str] = set()
        for cls in kinds:
            base = self._base[cls]
            if cls in _MARKET:
                keys = wanted_symbols
                if after_venue:
                    base = self.after_venue
            elif _by_strategy(cls):
                keys = wanted_strategies
            elif self.origin is not None:
                keys = [self.origin] if own_account else None
            else:
                subjects.add(base)
                continue
            if keys is None:
                subjects.add(f"{base}.*")
            else:
                subjects.update(f"{base}.{token(key)}" for key in keys)
        return sorted(subjects)
