"""Every request body has an example in the OpenAPI document, valid against the body's schema
there and accepted by the Struct the server converts the body into; every operation and
parameter is described."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from jsonschema import Draft202012Validator
from litestar.routes import HTTPRoute

from infra.settings import load_settings
from server.app import create_app
from server.examples import EXAMPLES
from server.openapi import body_type

APP = create_app(load_settings({}, database_url="postgresql://unused/unused"))
DOCUMENT: dict[str, Any] = APP.openapi_schema.to_schema()


def _bodies() -> list[tuple[str, type]]:
    found = {}
    for route in APP.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                body = body_type(handler)
                if body is not None and handler.resolve_include_in_schema():
                    found[f"{route.path} {sorted(handler.http_methods)}"] = body
    return sorted(found.items())


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
    ]


@pytest.mark.parametrize(("where", "body"), _bodies())
def test_the_example_of_every_body_is_accepted_by_its_struct(where: str, body: type) -> None:
    example = EXAMPLES.get(body.__name__)

    assert example is not None, f"{where}: no example for {body.__name__}"
    msgspec.json.decode(msgspec.json.encode(example), type=body)


@pytest.mark.parametrize(("path", "method", "operation"), _operations())
def test_every_body_example_is_valid_against_the_document(
    path: str, method: str, operation: dict[str, Any]
) -> None:
    body = operation.get("requestBody")
    if body is None:
        return
    for media in body["content"].values():
        [example] = media["examples"].values()
        validator = Draft202012Validator({**DOCUMENT, **media["schema"]})
        errors = [error.message for error in validator.iter_errors(example["value"])]
        assert not errors, f"{method} {path}: {errors}"


@pytest.mark.parametrize(("path", "method", "operation"), _operations())
def test_every_operation_and_parameter_is_described(
    path: str, method: str, operation: dict[str, Any]
) -> None:
    assert operation.get("description"), f"{method} {path} has no description"
    for parameter in operation.get("parameters", []):
        assert parameter.get("description"), f"{method} {path}: {parameter['name']}"
