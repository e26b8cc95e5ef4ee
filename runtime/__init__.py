"""Atrium's machinery: messages, channels, actors, supervisor, clocks. No trading logic."""

from atrium.runtime.actor import Actor as Actor
from atrium.runtime.actor import ActorContext as ActorContext
from atrium.runtime.actor import ActorStats as ActorStats
from atrium.runtime.channels import Mailbox as Mailbox
from atrium.runtime.clocks import Clock as Clock
from atrium.runtime.clocks import LiveClock as LiveClock
from atrium.runtime.clocks import SimClock as SimClock
from atrium.runtime.codec import decode as decode
from atrium.runtime.codec import encode as encode
from atrium.runtime.dispatch import Dispatcher as Dispatcher
from atrium.runtime.errors import ActorEscalation as ActorEscalation
from atrium.runtime.errors import AtriumError as AtriumError
from atrium.runtime.errors import FatalInputError as FatalInputError
from atrium.runtime.errors import TopologyError as TopologyError
from atrium.runtime.supervisor import ActorSlot as ActorSlot
from atrium.runtime.supervisor import Supervisor as Supervisor
from atrium.runtime.topology import Pipeline as Pipeline
from atrium.runtime.topology import build_pipeline as build_pipeline

__all__ = (
    "Actor",
    "ActorContext",
    "ActorEscalation",
    "ActorSlot",
    "ActorStats",
    "AtriumError",
    "Clock",
    "Dispatcher",
    "FatalInputError",
    "LiveClock",
    "Mailbox",
    "Pipeline",
    "SimClock",
    "Supervisor",
    "TopologyError",
    "build_pipeline",
    "decode",
    "encode",
)
