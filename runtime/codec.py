"""One msgpack encoder/decoder pair for the whole message union (wire and journal format)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, get_args

import msgspec

from atrium.runtime.messages import AnyMessage, Message

__all__ = ("MESSAGE_TYPES", "decode", "encode", "kind_of")

#: Message class by its tag (the class name), for routing tables and config validation.
MESSAGE_TYPES: Final[dict[str, type[Message]]] = {cls.__name__: cls for cls in get_args(AnyMessage)}

_decoder: Final = msgspec.msgpack.Decoder(AnyMessage)

#: Encode any message of the union to msgpack bytes (the encoder's own method: this is
#: called for every journaled message, and a wrapper would cost a call each time).
encode: Final[Callable[[Message], bytes]] = msgspec.msgpack.Encoder().encode


def decode(payload: bytes) -> AnyMessage:
    """Decode bytes produced by :func:`encode`; raises ``msgspec.ValidationError`` when bad."""
    message: AnyMessage = _decoder.decode(payload)
    return message


def kind_of(message: Message) -> str:
    """The tag a message is routed and journaled under."""
    return type(message).__name__
