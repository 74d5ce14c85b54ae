"""Event state as JSON, encoded and decoded by msgspec.

Encoding is msgspec's own (UUIDs, datetimes, dates and Decimals as strings, tuples as
arrays, Structs as objects). Decoding is typed: `EventMapper` decodes each stored event
straight into the field types its event class declares, in C, instead of walking the JSON
in Python: into a dict (a TypedDict per event class) that becomes the event's `__dict__`
as it is, so nothing is copied field by field. Older event versions are decoded loosely,
upcast by eventsourcing's `class_version`/`upcast_vN_vN+1` mechanism, then converted to the
declared types.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any, NotRequired, TypedDict
from uuid import UUID

import msgspec
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import resolve_topic

_MAPPED = {"originator_id", "originator_version"}


class TranscodingError(TypeError):
    """Raised when event state holds a value the transcoder cannot encode."""


def _refuse(value: Any) -> Any:
    raise TranscodingError(f"cannot encode {type(value).__qualname__} in event state")


class MsgspecTranscoder(Transcoder):
    """Event state to JSON bytes and back (untyped: see `EventMapper` for typed decoding)."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder(enc_hook=_refuse, decimal_format="string")
        self._decoder = msgspec.json.Decoder()

    def encode(self, obj: Any) -> bytes:
        return self._encoder.encode(obj)

    def decode(self, data: bytes) -> Any:
        return self._decoder.decode(data)


class _Schema:
    """The TypedDict mirroring one event class's fields, and its decoder."""

    def __init__(self, cls: type[Any]) -> None:
        hints = typing.get_type_hints(cls)
        self.fields = [
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in _MAPPED and not f.name.startswith("_")
        ]
        spec: dict[str, Any] = {name: hints.get(name, Any) for name in self.fields}
        if "class_version" not in spec:
            spec["class_version"] = NotRequired[int]
        # Unknown keys are skipped and every field is required, as in the event class.
        self.typed: Any = TypedDict(f"{cls.__qualname__}State", spec)  # type: ignore[misc]
        self.decoder = msgspec.json.Decoder(self.typed)
        self.class_version: int = getattr(cls, "class_version", 1)


class EventMapper(Mapper[UUID]):
    """eventsourcing's Mapper with typed msgspec decoding of each event class's state."""

    def __init__(self) -> None:
        super().__init__(transcoder=MsgspecTranscoder())
        self._schemas: dict[str, tuple[type[Any], _Schema]] = {}
        self._typed = self._typed_decoder()

    def _schema(self, topic: str) -> tuple[type[Any], _Schema]:
        found = self._schemas.get(topic)
        if found is None:
            cls = resolve_topic(topic)
            found = self._schemas[topic] = (cls, _Schema(cls))
        return found

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        if self.cipher or self.compressor:
            return super().to_domain_event(stored_event)
        return self.decode(
            stored_event.topic,
            stored_event.originator_id,
            stored_event.originator_version,
            stored_event.state,
        )

    def decode(self, topic: str, originator_id: Any, originator_version: int, state: bytes) -> Any:
        """The domain event stored as these columns (what `to_domain_event` does, without a
        StoredEvent to build first: projections decode straight from the rows they read)."""
        if self.cipher or self.compressor:
            return super().to_domain_event(
                StoredEvent(originator_id, originator_version, topic, state)
            )
        return self._typed(topic, originator_id, originator_version, state)

    def row_decoder(self) -> Callable[[str, Any, int, bytes], Any]:
        """`decode`, for a catch-up decoding rows by the million: without the checks that
        hold for all of them (no cipher, no compressor)."""
        return self.decode if self.cipher or self.compressor else self._typed

    def _typed_decoder(self) -> Callable[[str, Any, int, bytes], Any]:
        schemas = self._schemas
        schema_of = self._schema
        upcast = self._upcast
        invalid = msgspec.ValidationError
        new = object.__new__
        set_attribute = object.__setattr__

        def decode(topic: str, originator_id: Any, originator_version: int, state: bytes) -> Any:
            found = schemas.get(topic)
            cls, schema = schema_of(topic) if found is None else found
            try:
                values: dict[str, Any] = schema.decoder.decode(state)
                if values.pop("class_version", 1) != schema.class_version:
                    values = upcast(cls, schema, state)
            except invalid:
                # An older version whose fields differ: upcast the loose state first.
                values = upcast(cls, schema, state)
            values["originator_id"] = (
                originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
            )
            values["originator_version"] = originator_version
            event = new(cls)
            set_attribute(event, "__dict__", values)
            return event

        return decode

    def _upcast(self, cls: type[Any], schema: _Schema, state: bytes) -> dict[str, Any]:
        loose: dict[str, Any] = self.transcoder.decode(state)
        version = loose.pop("class_version", 1)
        while version < schema.class_version:
            getattr(cls, f"upcast_v{version}_v{version + 1}")(loose)
            version += 1
        typed: dict[str, Any] = msgspec.convert(loose, schema.typed, strict=False)
        typed.pop("class_version", None)
        return typed
