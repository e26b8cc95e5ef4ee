"""A cluster replay in which every role reads the recorded feeds itself.

Only order flow crosses processes. The core (portfolio, risk, execution) and each
strategy role read the same records in the same order, so the n-th record is the same
*event* everywhere, and each takes the records its actors want. What one process does
within an event, the cluster does like this (the same rounds as a replay driven over the
stream, see ``docs/cluster.md``):

1. The core handles the event, venue first: the fills at the bar's open, then the bar.
2. Each strategy role handles it after everything the core sent its strategies in step 1,
   and says it is done (``Done(event, 0)``), after the intents it sent.
3. The core takes those intents, ranked by strategy as one strategy actor would have sent
   them (round 1). Whatever that sends a strategy role, the role answers (``Done(event,
   1)``), and the answers make round 2, and so on until a round sends nothing.

The step that buys the speed: the core sends a strategy only what concerns an order or
intent of that strategy (fills, position updates, denials, order updates; it never
trades on its own in a replay, except for a control recorded in the feed). So while a
strategy role has nothing open with the core it cannot receive anything, and it runs
ahead without waiting, telling the core how far it got now and then; the core waits
only for that. A role that sends an intent is *engaged*: it then waits for the core's
``Step`` after each event (and answers each round), until the core finds none of its
strategies with an order in flight and tells it it is quiet. Both sides decide engaged
from what they sent and received, so they agree; the core refuses (and stops the replay,
naming the message) to send anything to a role that is not engaged, since that role may
already have handled the event.

Everything a role sends the core between two of its ``Done`` markers belongs to the event
and round the second one names: the stream keeps one publisher's order, so no message
needs a tag. Two roles that read different data would trade different prices: each
role's first ``Done`` carries a fingerprint of its feeds, and the core refuses a
difference. A role that fails, or a core that fails, ends the replay for all with the
reason (``Done.failed``, the end marker's payload).
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Mapping
from functools import partial
from typing import Final, Protocol, TypeVar

import anyio
import msgspec

from atrium.runtime.errors import AtriumError
from atrium.runtime.messages import Control, Message

__all__ = ("CoreSteps", "Done", "FollowerSteps", "Step", "StepPort")

log = logging.getLogger("atrium.cluster")

#: A role with nothing open tells the core how far it got at least this often (events):
#: the core may be waiting for that, while the role is running ahead.
WATERMARK_EVERY: Final = 32


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """Core to an engaged strategy role: ``event`` round ``round`` is done here (round 0:
    the core handled the event; go on with it), or, ``quiet``, nothing of the role's is
    open any more: run ahead.

    ``idle`` (round 0): none of the role's strategies has an order in flight now. If the
    role then sends nothing for the event, it is quiet as soon as it said so, and both
    sides know it without another marker (the rounds can bring it nothing).
    """

    event: int
    round: int = 0
    quiet: bool = False
    idle: bool = False


class Done(msgspec.Struct, frozen=True, kw_only=True):
    """Strategy role to the core: everything it sent for ``event`` round ``round`` (and,
    while it had nothing open, for every event before) is stored before this."""

    event: int
    round: int = 0
    #: On the first (event 0): the fingerprint of the feeds the role reads.
    feeds: str = ""
    #: The role read its last record.
    final: bool = False
    #: The role failed, and why: the replay cannot go on.
    failed: str = ""


_Marker = TypeVar("_Marker", Step, Done)


class StepPort(Protocol):
    """What the steps need of the bridge that carries them."""

    async def alive(self, role: str) -> bool:
        """Whether a process runs ``role`` (its lock is held): asked of a peer waited for
        longer than :attr:`patience` seconds, which may have been killed."""
        ...

    @property
    def patience(self) -> float: ...

    def send_marker(self, subject: str, payload: bytes, msg_id: str) -> None:
        """Queue a marker behind what was exported so far."""
        ...

    async def flush(self) -> None:
        """Publish what is queued and wait until JetStream stored it."""
        ...


def encode_marker(marker: Step | Done) -> bytes:
    return msgspec.json.encode(marker)


def decode_step(payload: bytes) -> Step:
    return _decode(payload, Step)


def decode_done(payload: bytes) -> Done:
    return _decode(payload, Done)


def _decode(payload: bytes, kind: type[_Marker]) -> _Marker:
    try:
        return msgspec.json.decode(payload, type=kind)
    except msgspec.DecodeError as exc:
        problem = f"cluster replay: a {kind.__name__} marker that does not decode: {exc}"
        raise AtriumError(problem) from None


def _gone(role: str, event: int) -> AtriumError:
    return AtriumError(
        f"cluster replay: role {role} is gone (no process holds its lock) while waited for "
        f"at event {event}; run the replay again in a new namespace"
    )


class _Wakeup:
    """Wakes whoever waits for something to change (an event made only when one waits:
    making one per message cost a measurable share of a busy core's time)."""

    def __init__(self) -> None:
        self._event: anyio.Event | None = None

    async def changed(self) -> None:
        if self._event is None:
            self._event = anyio.Event()
        await self._event.wait()

    def wake(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None


class _Heard(_Wakeup):
    """What a strategy role heard besides steps: the coordinator's start, the core's end
    (with a failure's reason, if any); :meth:`changed` returns whenever something came."""

    def __init__(self) -> None:
        super().__init__()
        self.started = False
        self.ended: str | None = None

    def start(self) -> None:
        self.started = True
        self.wake()

    def end(self, reason: str) -> None:
        self.ended = reason
        self.wake()


class FollowerSteps:
    """The turnstile of a strategy role (see the module docstring)."""

    def __init__(
        self,
        port: StepPort,
        role: str,
        done_subject: str,
        wants: Callable[[Message], bool],
        core: str = "core",
    ) -> None:
        self._port, self._role, self._subject, self._wants = port, role, done_subject, wants
        self._core = core
        self.event = 0
        self.engaged = False
        self._sent = 0
        self._output = False
        self._last_done = 0
        self._ready = 0
        # The core's round-0 step of the event being handled said the role was idle.
        self._idle = False
        self._steps: deque[Step] = deque()
        self._heard = _Heard()
        #: Read its last record and heard the core's last word.
        self.complete = False

    # -- from the bridge ------------------------------------------------------------------

    def start_seen(self) -> None:
        self._heard.start()

    def ended(self, reason: str) -> None:
        self._heard.end(reason)

    def step(self, step: Step) -> None:
        self._steps.append(step)
        self._heard.wake()

    def exported(self, message: Message) -> str:
        """The role sends ``message`` (order flow) to the core: the subject it goes on."""
        self._output = True
        return self._subject

    def failure(self, reason: str) -> tuple[str, bytes, str]:
        """The marker that tells the core this role failed (sent at its stop)."""
        return (self._subject, *self._encode(Done(event=self.event, failed=reason)))

    # -- the turnstile --------------------------------------------------------------------

    async def begin(self, feeds: str) -> None:
        log.info("role %s waits for the replay's start (the market data role gives it)", self._role)
        while not self._heard.started:
            if self._heard.ended is not None:
                raise AtriumError(f"the replay stopped before it started: {self._heard.ended}")
            await self._heard.changed()
        self._send(Done(event=0, feeds=feeds))
        await self._port.flush()

    async def admit(self, record: Message) -> bool:
        if self.event:
            await self._close(self.event, final=False)
        self.event += 1
        if isinstance(record, Control):
            self.engaged = True  # the core may act on every strategy: all wait for it
        if self.engaged and self._ready != self.event:
            step = await self._next_step()
            if step is None or step.event != self.event or step.round or step.quiet:
                raise self._out_of_step(step)
            self._idle = step.idle
        return self._wants(record)

    async def finished(self) -> None:
        await self._close(self.event, final=True)
        self.complete = True

    async def _close(self, event: int, *, final: bool) -> None:
        """After ``event``: tell the core (at once if engaged), then wait for its rounds."""
        idle, self._idle = self._idle and not self._output, False
        if self._output:
            self.engaged = True
        if not self.engaged:
            if final or event - self._last_done >= WATERMARK_EVERY:
                self._send(Done(event=event, final=final))
                await self._port.flush()
            return
        self._send(Done(event=event, final=final))
        await self._port.flush()
        if idle:
            self.engaged = False  # nothing in flight and nothing sent: see Step.idle
            return
        while True:
            step = await self._next_step()
            if step is None and final:
                return  # the core finished the replay
            if step is not None and step.event == event and step.quiet:
                self.engaged = False
                return
            if step is not None and step.event == event and step.round:
                self._send(Done(event=event, round=step.round, final=final))
                await self._port.flush()
                continue
            if step is not None and step.event == event + 1 and not step.round:
                self._ready, self._idle = event + 1, step.idle
                return
            raise self._out_of_step(step)

    def _send(self, done: Done) -> None:
        self._output = False
        self._last_done = done.event
        payload, msg_id = self._encode(done)
        self._port.send_marker(self._subject, payload, msg_id)

    def _encode(self, done: Done) -> tuple[bytes, str]:
        self._sent += 1
        return encode_marker(done), f"{self._role}:done:{self._sent}"

    async def _next_step(self) -> Step | None:
        """The core's next step marker; None when the replay ended without a failure."""
        while not self._steps:
            if self._heard.ended is not None:
                if self._heard.ended:
                    raise AtriumError(f"the replay stopped: {self._heard.ended}")
                return None
            with anyio.move_on_after(self._port.patience) as waited:
                await self._heard.changed()
            if waited.cancelled_caught and not await self._port.alive(self._core):
                raise _gone(self._core, self.event)
        return self._steps.popleft()

    def _out_of_step(self, step: Step | None) -> AtriumError:
        got = "the end of the replay" if step is None else repr(step)
        return AtriumError(
            f"cluster replay: role {self._role} at event {self.event} got {got} from the "
            "core, out of step (do both read the same feeds?)"
        )


class CoreSteps:
    """The turnstile of the core (see the module docstring)."""

    def __init__(
        self,
        port: StepPort,
        *,
        role: str,
        steps: Mapping[str, str],
        owners: Mapping[str, str],
        rank: Callable[[list[Message]], list[Message]],
        release: Callable[[list[Message]], Awaitable[None]],
        in_flight: Callable[[], Collection[str]],
        end: str,
    ) -> None:
        """``steps``: each strategy role and the subject of its step markers; ``owners``:
        each strategy of those roles and its role; ``release`` hands a round's order
        flow to the bus; ``in_flight``: the strategies with an order open; ``end``: the
        subject of the replay's end marker."""
        self._port, self._role, self._end = port, role, end
        self.complete = False
        self._step_subjects = dict(steps)
        self._followers = sorted(steps)
        self._owners = dict(owners)
        self._owned = {
            role: frozenset(s for s, owner in self._owners.items() if owner == role)
            for role in self._followers
        }
        self._rank, self._release, self._in_flight = rank, release, in_flight
        self.event = 0
        self._sent = 0
        self._engaged: set[str] = set()
        # Engaged roles told idle at the event's start, and those that sent something.
        self._idle: set[str] = set()
        self._given_now: set[str] = set()
        self._got: set[str] = set()
        self._pending: dict[str, list[Message]] = {role: [] for role in self._followers}
        self._given: dict[str, dict[tuple[int, int], list[Message]]] = {
            role: {} for role in self._followers
        }
        self._done: dict[str, tuple[int, int]] = {role: (-1, 0) for role in self._followers}
        self._feeds: dict[str, str] = {}
        self._final: set[str] = set()
        self._started = False
        self._failed: str | None = None
        self._wakeup = _Wakeup()

    # -- from the bridge ------------------------------------------------------------------

    def start_seen(self) -> None:
        """The coordinator gave the start, once every role was up: from now on a role
        without a lock is gone, not late."""
        self._started = True

    def ended(self, reason: str) -> None:
        """Its own end marker, come back."""

    def hold(self, role: str, message: Message) -> None:
        """Order flow from ``role``: it belongs to the event its next ``Done`` names."""
        pending = self._pending.get(role)
        if pending is None:
            raise AtriumError(f"cluster replay: order flow from {role}, which is no strategy role")
        pending.append(message)

    def done(self, role: str, done: Done) -> None:
        if role not in self._pending:
            return
        if done.failed:
            self._failed = f"role {role} failed at event {done.event}: {done.failed}"
        if done.event == 0 and done.feeds:
            self._feeds[role] = done.feeds
        given, self._pending[role] = self._pending[role], []
        if given:
            self._given[role].setdefault((done.event, done.round), []).extend(given)
        self._done[role] = max(self._done[role], (done.event, done.round))
        if done.final:
            self._final.add(role)
        self._wake()

    def exported(self, message: Message) -> str | None:
        """The core sends ``message``: the subject it goes on (None: no strategy role
        wants it). A strategy role must be engaged to be sent anything."""
        strategy = getattr(message, "strategy", None)
        role = self._owners.get(strategy) if isinstance(strategy, str) else None
        if role is None:
            return None
        if role not in self._engaged:
            raise AtriumError(
                f"cluster replay: the core sent {type(message).__name__} for strategy "
                f"{strategy} at event {self.event} to role {role}, which had nothing open "
                "and may have handled that event already; replay this config with "
                '[cluster] replay_market_data = "driver"'
            )
        self._got.add(role)
        return self._step_subjects[role]

    def failure(self, reason: str) -> tuple[str, bytes, str]:
        """The end marker, with its reason, when the core stops before the end."""
        return self._end, reason.encode(), f"{self._role}:end:{secrets.token_hex(4)}"

    # -- the turnstile --------------------------------------------------------------------

    async def begin(self, feeds: str) -> None:
        log.info("waiting for the strategy roles %s to start reading", ", ".join(self._followers))
        await self._until(lambda: all(role in self._feeds for role in self._followers))
        for role, theirs in sorted(self._feeds.items()):
            if theirs != feeds:
                raise AtriumError(
                    f"cluster replay: role {role} reads other market data than the core "
                    f"(feeds fingerprint {theirs} against {feeds}): every role must read "
                    "the same files with the same [market_data] and --feed"
                )

    async def admit(self, record: Message) -> bool:
        if self.event:
            await self._finish(self.event)
        self.event += 1
        if isinstance(record, Control):
            self._engaged.update(self._followers)  # they wait for it as well
        return True

    async def finished(self) -> None:
        if self.event:
            await self._finish(self.event)
        self._port.send_marker(self._end, b"", f"{self._role}:end")
        await self._port.flush()
        self.complete = True

    async def _finish(self, event: int) -> None:
        """The rounds of ``event`` after the core handled it (module docstring, 2-3).

        Most events engage no role and find every role's done marker there already:
        that path marks nothing, waits for nothing and publishes nothing.
        """
        if self._engaged:
            self._start_rounds(event)
            await self._port.flush()
        waiting, rounds = self._followers, 0
        while True:
            if not self._closed(waiting, event, rounds):
                await self._until(partial(self._closed, waiting, event, rounds))
            given = self._take_given(event, rounds)
            if not given:
                break
            rounds += 1
            self._got = set()
            await self._release(self._rank(given))
            waiting = sorted(self._got)
            for role in waiting:
                self._mark(role, Step(event=event, round=rounds))
            if not waiting:
                break
            await self._port.flush()
        if self._engaged and self._quieten(event, rounds):
            await self._port.flush()

    def _start_rounds(self, event: int) -> None:
        """Tell each engaged role that the core handled ``event``, and whether it is idle."""
        in_flight = self._in_flight()
        self._idle, self._given_now = set(), set()
        for role in sorted(self._engaged):
            idle = self._owned[role].isdisjoint(in_flight)
            if idle:
                self._idle.add(role)
            self._mark(role, Step(event=event, idle=idle))

    def _take_given(self, event: int, rounds: int) -> list[Message]:
        """What the roles sent for ``event`` round ``rounds``; those that did are engaged."""
        given: list[Message] = []
        for role in self._followers:
            part = self._given[role].pop((event, rounds), None)
            if part:
                self._engaged.add(role)
                self._given_now.add(role)
                given.extend(part)
        return given

    def _quieten(self, event: int, rounds: int) -> bool:
        """Tell each engaged role whose strategies have nothing in flight that it is quiet
        (one told idle that sent nothing knows it already: see :class:`Step`); True when
        a marker was queued."""
        in_flight, marked = self._in_flight(), False
        for role in sorted(self._engaged):
            if role in self._idle and role not in self._given_now:
                self._engaged.discard(role)
            elif self._owned[role].isdisjoint(in_flight):
                self._mark(role, Step(event=event, round=rounds, quiet=True))
                self._engaged.discard(role)
                marked = True
        return marked

    def _closed(self, waiting: list[str], event: int, rounds: int) -> bool:
        """Whether every role in ``waiting`` is done with ``event`` round ``rounds``."""
        done = self._done
        return all(done[role] >= (event, rounds) for role in waiting)

    async def _until(self, ready: Callable[[], bool]) -> None:
        while True:
            if self._failed is not None:
                raise AtriumError(f"cluster replay: {self._failed}")
            if ready():
                return
            with anyio.move_on_after(self._port.patience) as waited:
                await self._wakeup.changed()
            if waited.cancelled_caught:
                for role in self._followers:
                    if role in self._final or not (self._started or role in self._feeds):
                        continue  # done with the replay, or not up yet: no lock
                    if not await self._port.alive(role):
                        raise _gone(role, self.event)

    def _wake(self) -> None:
        self._wakeup.wake()

    def _mark(self, role: str, step: Step) -> None:
        self._sent += 1
        msg_id = f"{self._role}:step:{self._sent}"
        self._port.send_marker(self._step_subjects[role], encode_marker(step), msg_id)
