"""Build the actor graph from ``[topology]``: load classes, create mailboxes, subscribe them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from atrium.config.schema import AtriumConfig
from atrium.runtime.actor import Actor, ActorContext, ActorStats, Mode
from atrium.runtime.capabilities import Capabilities
from atrium.runtime.channels import Mailbox
from atrium.runtime.clocks import Clock
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.errors import TopologyError
from atrium.runtime.loading import load_object
from atrium.runtime.replay_driver import drive_replay
from atrium.runtime.supervisor import ActorSlot, Supervisor

__all__ = ("Pipeline", "build_pipeline")


@dataclass
class Pipeline:
    """A wired, not yet started, set of actors."""

    dispatcher: Dispatcher
    supervisor: Supervisor
    slots: dict[str, ActorSlot]
    clock: Clock
    registry: CollectorRegistry
    #: What the actors offer the runtime, once they are made.
    capabilities: Capabilities


def build_pipeline(
    config: AtriumConfig,
    *,
    clock: Clock,
    mode: Mode,
    registry: CollectorRegistry | None = None,
    sections: dict[str, Any] | None = None,
) -> Pipeline:
    """Instantiate the topology. ``sections`` overrides config sections by name.

    In replay the dispatcher moves ``clock`` (a SimClock) to each bar or tick as it enters
    (:func:`~runtime.replay_driver.drive_replay`): the runtime, not the feed, keeps time.
    """
    registry = registry if registry is not None else CollectorRegistry()
    dispatcher = Dispatcher(max_batch=config.runtime.max_batch)
    if mode == "replay":
        drive_replay(dispatcher, clock)
    slots: dict[str, ActorSlot] = {}
    capabilities = Capabilities()
    for name, spec in config.topology.actors.items():
        key = f"topology.actors.{name}.class"
        try:
            cls = load_object(spec.cls, key=key)
        except ValueError as exc:
            raise TopologyError(str(exc)) from None
        if not (isinstance(cls, type) and issubclass(cls, Actor)):
            raise TopologyError(f"{key}: {spec.cls!r} is not an Actor subclass")
        unhandled = sorted(set(spec.subscribes) - set(cls.handles()))
        if unhandled:
            raise TopologyError(
                f"topology.actors.{name}.subscribes: {spec.cls} has no handler for "
                f"{', '.join(unhandled)}"
            )
        section = _section(config, spec.section, sections, name)
        stats = ActorStats()
        mailbox = Mailbox(name, spec.mailbox_capacity, stats)
        dispatcher.subscribe(name, mailbox, list(spec.subscribes), venue=cls.venue)
        context = ActorContext(
            name=name,
            config=section,
            clock=clock,
            dispatcher=dispatcher,
            registry=registry,
            mode=mode,
            stats=stats,
            capabilities=capabilities,
        )
        slots[name] = ActorSlot(name, cls, context, mailbox, spec.restart)
    supervisor = Supervisor(dispatcher, list(slots.values()), config.runtime)
    return Pipeline(dispatcher, supervisor, slots, clock, registry, capabilities)


def _section(
    config: AtriumConfig, section: str | None, overrides: dict[str, Any] | None, actor: str
) -> Any:
    if section is None:
        return None
    if overrides and section in overrides:
        return overrides[section]
    if not hasattr(config, section):
        raise TopologyError(f"topology.actors.{actor}.section: no config section {section!r}")
    return getattr(config, section)
