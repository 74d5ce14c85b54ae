"""msgspec transcoder for eventsourcing's `Mapper`.

Event state is JSON. Values JSON cannot tell apart (UUID, datetime, date, Decimal,
tuple, msgspec Structs) are written as {"_type_": name, "_data_": value}, the same
tagging eventsourcing's JSONTranscoder uses, so the decoded event equals the original.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import Transcoder
from eventsourcing.utils import get_topic, resolve_topic

_TYPE = "_type_"
_DATA = "_data_"
_JSON_SCALARS = (str, int, float, bool, type(None))


class TranscodingError(TypeError):
    """Raised when event state holds a value the transcoder cannot encode."""


class MsgspecTranscoder(Transcoder):
    """Encodes event state to JSON bytes with msgspec, preserving Python types."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder()

    def encode(self, obj: Any) -> bytes:
        return self._encoder.encode(_tag(obj))

    def decode(self, data: bytes) -> Any:
        return _untag(self._decoder.decode(data))


def _tag(value: Any) -> Any:
    if isinstance(value, _JSON_SCALARS):
        return value
    if isinstance(value, dict):
        if _TYPE in value:
            raise TranscodingError(f"a dict key may not be {_TYPE!r}")
        return {k: _tag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tag(v) for v in value]
    if isinstance(value, tuple):
        return {_TYPE: "tuple", _DATA: [_tag(v) for v in value]}
    if isinstance(value, UUID):
        return {_TYPE: "uuid_hex", _DATA: value.hex}
    if isinstance(value, datetime):
        return {_TYPE: "datetime_iso", _DATA: value.isoformat()}
    if isinstance(value, date):
        return {_TYPE: "date_iso", _DATA: value.isoformat()}
    if isinstance(value, Decimal):
        return {_TYPE: "decimal_str", _DATA: str(value)}
    if isinstance(value, msgspec.Struct):
        fields = {f: _tag(getattr(value, f)) for f in value.__struct_fields__}
        return {_TYPE: "struct", _DATA: {"topic": get_topic(type(value)), "fields": fields}}
    raise TranscodingError(f"cannot encode {type(value).__qualname__} in event state")


def _untag(value: Any) -> Any:
    if isinstance(value, dict):
        kind = value.get(_TYPE)
        if kind is None:
            return {k: _untag(v) for k, v in value.items()}
        data = value[_DATA]
        if kind == "uuid_hex":
            return UUID(data)
        if kind == "datetime_iso":
            return datetime.fromisoformat(data)
        if kind == "date_iso":
            return date.fromisoformat(data)
        if kind == "decimal_str":
            return Decimal(data)
        if kind == "tuple":
            return tuple(_untag(v) for v in data)
        if kind == "struct":
            cls = resolve_topic(data["topic"])
            return cls(**{k: _untag(v) for k, v in data["fields"].items()})
        raise TranscodingError(f"unknown tagged type {kind!r} in event state")
    if isinstance(value, list):
        return [_untag(v) for v in value]
    return value
