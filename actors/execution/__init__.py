"""The execution actor, its order state machine, the venue adapter protocol and the paper venue.

``actors.execution.adapter`` is what a live venue implements; ``actors.execution.paper``
is the simulated venue; reason codes and metrics are listed in ``actors.execution.actor``.
"""

from actors.execution.actor import ExecutionActor as ExecutionActor

__all__ = ("ExecutionActor",)
