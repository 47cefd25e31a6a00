"""What a call needs from outside itself: its client's connection, options and devices
(``CallContext``), somewhere to report to (``CallListener``, which the client is), and
request bodies built by the protocol's own models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pydantic

from desktop_app.protocol.base import Request

from .connection import CoordinatorConnection
from .device_managers import InputDeviceManager, SpeakerManager
from .errors import InvalidInput
from .microphone import MicrophoneManager
from .options import ClientOptions

if TYPE_CHECKING:
    from .call import Call

#: An argument the caller did not give (``None`` may be a value worth sending).
UNSET: Any = object()
RequestModel = TypeVar("RequestModel", bound=Request)


class CallListener(Protocol):
    """What the client hears from its calls."""

    def call_known(self, call: Call) -> None:
        """The call exists (an answer or an event named it)."""

    def ring_changed(self, call: Call) -> None:
        """The call's ring state here may have changed."""

    def ring_missed(self, call: Call) -> None:
        """A ring of this call ended here with no answer of ours (a missed call)."""

    def in_another_call(self, call: Call) -> bool: ...

    def notified(self, call: Call) -> None:
        """Someone announced the call to us with ``notify``."""


@dataclass
class CallContext:
    """What a call uses of its client."""

    connection: CoordinatorConnection
    user_id: str
    options: ClientOptions
    camera: InputDeviceManager
    microphone: MicrophoneManager
    speaker: SpeakerManager
    listener: CallListener


def request_body(model: type[RequestModel], **fields: Any) -> dict[str, Any]:
    """A request body built (and checked) by the protocol's own model: a bad argument is an
    ``InvalidInput`` with the model's sentence before anything travels."""
    try:
        built = model.model_validate({k: v for k, v in fields.items() if v is not UNSET})
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidInput(f"{field}: {first['msg']}", "invalid_input", 400) from None
    return built.model_dump(mode="json", exclude_unset=True)
