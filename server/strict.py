"""Strict query strings, for every operation in one place: a parameter the operation does not
take, or a time given as anything but RFC 3339 text, is a 400 naming it.

Litestar ignores query parameters a handler does not declare, and converts values leniently
(msgspec's lax mode reads `received_to=0.5` as half a second after the epoch); a client with a
typo would silently get unfiltered answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

import msgspec
from litestar import Litestar, Request
from litestar.exceptions import ValidationException
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

_RULES = "loopline.query"
"""The key of an operation's `QueryRules` in its handler's `opt`."""

_TEXT_ONLY = (datetime, date, time)

T = TypeVar("T", datetime, date, time)


def query_time(name: str, value: str, kind: type[T]) -> T:
    """`value` read as RFC 3339 text of `kind`; a 400 naming `name` when it is not one, or
    when it is a time whose UTC equivalent no calendar holds (`0001-01-01T01:00:00+03:00`):
    queries compare in UTC, so such a time could only fail later, without a name.

    Strict: text in the standard form only (msgspec's lax mode would read numbers as
    timestamps)."""
    try:
        parsed = msgspec.convert(value, kind)
    except msgspec.ValidationError:
        raise ValidationException(
            detail=f"{name}={value!r} is not an RFC 3339 {kind.__name__}", extra={"field": name}
        ) from None
    if isinstance(parsed, datetime) and parsed.tzinfo is not None:
        try:
            parsed.astimezone(UTC)
        except OverflowError:
            raise ValidationException(
                detail=f"{name}={value!r} lies outside the calendar in UTC (years 1 to 9999)",
                extra={"field": name},
            ) from None
    return parsed


@dataclass(frozen=True, slots=True)
class QueryRules:
    """The query parameters one operation takes, and which of them must be text in a
    standard form (times) rather than anything msgspec's lax mode can coerce."""

    names: frozenset[str]
    texts: dict[str, type]


def _fields(handler: Any) -> dict[str, FieldDefinition]:
    """Parameter name → field, over the handler and every dependency it can use."""
    found: dict[str, FieldDefinition] = {}
    for provider in handler.resolve_dependencies().values():
        found.update(provider.parsed_fn_signature.parameters)
    found.update(handler.parsed_fn_signature.parameters)
    return found


def _text_type(field: FieldDefinition | None) -> type | None:
    if field is None:
        return None
    candidates = [t.annotation for t in field.inner_types] if field.is_union else [field.annotation]
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, _TEXT_ONLY):
            return candidate
    return None


def make_queries_strict(app: Litestar) -> Litestar:
    """Gives each documented operation its `QueryRules` (`strict_query` enforces them)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, kwargs_model in route.route_handler_map.values():
            if not handler.resolve_include_in_schema():
                continue
            if "query" in kwargs_model.expected_reserved_kwargs:
                continue  # the handler reads the whole query itself
            fields = _fields(handler)
            texts = {}
            for parameter in kwargs_model.expected_query_params:
                kind = _text_type(fields.get(parameter.field_name))
                if kind is not None:
                    texts[parameter.field_alias] = kind
            names = frozenset(p.field_alias for p in kwargs_model.expected_query_params)
            handler.opt = {**handler.opt, _RULES: QueryRules(names=names, texts=texts)}
    return app


async def strict_query(request: Request[Any, Any, Any]) -> None:
    """An app-wide `before_request` check: 400 for unknown query parameters and for times not
    in RFC 3339, before any parameter is parsed.

    Not a guard: Litestar calls each guard with a copy of the route handler, which cost a
    read served from the cache a tenth of its time.
    """
    rules: QueryRules | None = request.route_handler.opt.get(_RULES)
    if rules is None:
        return
    query = request.query_params
    unknown = sorted(name for name in query if name not in rules.names)
    if unknown:
        takes = ", ".join(sorted(rules.names)) or "none"
        raise ValidationException(
            detail=(
                f"unknown query parameter{'s' if len(unknown) > 1 else ''}: "
                f"{', '.join(unknown)} (this operation takes: {takes})"
            ),
            extra={"field": unknown[0]},
        )
    for name, kind in rules.texts.items():
        for value in query.getall(name, []):
            query_time(name, value, kind)
