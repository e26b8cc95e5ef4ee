"""Atrium's machinery: messages, channels, actors, supervisor, clocks. No trading logic."""

from runtime.actor import Actor as Actor
from runtime.actor import ActorContext as ActorContext
from runtime.actor import ActorStats as ActorStats
from runtime.channels import Mailbox as Mailbox
from runtime.clocks import Clock as Clock
from runtime.clocks import LiveClock as LiveClock
from runtime.clocks import SimClock as SimClock
from runtime.codec import decode as decode
from runtime.codec import encode as encode
from runtime.dispatch import Dispatcher as Dispatcher
from runtime.errors import ActorEscalation as ActorEscalation
from runtime.errors import AtriumError as AtriumError
from runtime.errors import FatalInputError as FatalInputError
from runtime.errors import TopologyError as TopologyError
from runtime.supervisor import ActorSlot as ActorSlot
from runtime.supervisor import Supervisor as Supervisor
from runtime.topology import Pipeline as Pipeline
from runtime.topology import build_pipeline as build_pipeline

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
