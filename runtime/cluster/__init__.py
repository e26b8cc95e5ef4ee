"""Scale-out over NATS JetStream: actors of one topology in several processes.

``wiring`` turns ``[cluster.roles]`` into the config of one process, ``subjects`` names
where each message travels, ``link`` holds the NATS connection and the JetStream stream,
and ``bridge`` is the actor that carries messages between the in-process bus and NATS.
"""
