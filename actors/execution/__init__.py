"""The execution actor, its order state machine, the venue adapter protocol and the paper venue.

``atrium.actors.execution.adapter`` is what a live venue implements; ``atrium.actors.execution.paper``
is the simulated venue; reason codes and metrics are listed in ``atrium.actors.execution.actor``.
"""

from atrium.actors.execution.actor import ExecutionActor as ExecutionActor

__all__ = ("ExecutionActor",)
