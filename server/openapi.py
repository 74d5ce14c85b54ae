"""The OpenAPI document and its docs page.

The page is Swagger UI served from the files the `openapi-ui-bundles` wheel ships, so it works
without internet. Security and problem responses are derived for every operation from what
the app really does (the authentication middleware's open paths, the guards, the parameters,
bodies and dependencies each handler uses), in one place instead of by hand on each route.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib.metadata import version
from typing import Any

import openapi_ui_bundles.swagger_ui
from litestar import Litestar, get
from litestar.di import Provide
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, Operation, SecurityScheme
from litestar.response import Redirect
from litestar.router import Router
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router

from server.auth import OPEN_PATHS
from server.examples import EXAMPLES
from server.problems import ProblemDetails
from server.ratelimit import rate_limited

DOCS_PATH = "/schema"
ASSETS = f"{DOCS_PATH}/assets"
BEARER = "bearer"
"""The name of the security scheme in the document's components."""

_PROBLEM = "application/problem+json"
_OPEN = re.compile("|".join(OPEN_PATHS))
_SIGNED = re.compile("^/webhooks/")
"""Webhook receivers authenticate deliveries by their signature instead of a token."""
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# What each status means for any operation that can answer it (the body says the specifics).
_WHY = {
    400: "The request is malformed: an unknown or wrongly typed parameter, or an invalid body.",
    401: "No API token (or, for webhooks, no valid signature) was sent, or it is unknown.",
    403: "The token's role or teams do not allow this.",
    404: "Something the request names does not exist.",
    409: "A concurrent write changed the item first, or the name or key is taken.",
    412: "If-Match named a version that is no longer current.",
    413: "The request body is too large.",
    415: "The body is not declared as application/json.",
    422: "The request is well formed but the item's state or a rule forbids it.",
    429: "Too many requests (or failed authentications) from this client; see Retry-After.",
    503: "The database is unavailable or still starting; retry after Retry-After seconds.",
    504: "The read models did not reach the requested position (`after`) in time.",
}


class SwaggerUI(SwaggerRenderPlugin):
    """Swagger UI from local files: the page, its script, styles and icon need no CDN."""

    def __init__(self) -> None:
        super().__init__(
            js_url=f"{ASSETS}/swagger-ui-bundle.js",
            css_url=f"{ASSETS}/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
            path=["/", "/swagger"],
        )

    def receive_router(self, router: Router) -> None:
        super().receive_router(router)
        router.register(
            create_static_files_router(
                path="/assets",
                directories=[openapi_ui_bundles.swagger_ui.static_path],
                include_in_schema=False,
            )
        )


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Loopline",
        version=version("loopline"),
        description=(
            "Feedback joined to deliveries: receive and triage customer feedback, record "
            "product decisions, report shipped increments and incidents, and query lead "
            "times and DORA measures. Send `Authorization: Bearer <token>`; errors are "
            "RFC 9457 `application/problem+json`."
        ),
        path=DOCS_PATH,
        render_plugins=[SwaggerUI()],
        components=Components(
            security_schemes={
                BEARER: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description=(
                        "An API token: `loopline up` prints the admin's; admins create more "
                        "(POST /api/tokens) for the roles admin, product and member."
                    ),
                )
            }
        ),
    )


@get("/", include_in_schema=False, sync_to_thread=False)
def to_the_docs() -> Redirect:
    """The root has no resource of its own: it points a browser at the docs page."""
    return Redirect(DOCS_PATH)


def _used_names(handler: HTTPRouteHandler) -> set[str]:
    """The parameters a handler takes, directly or through the dependencies it asks for."""
    providers: dict[str, Provide] = handler.resolve_dependencies()
    names: set[str] = set()
    pending = list(handler.parsed_fn_signature.parameters)
    while pending:
        name = pending.pop()
        if name in names:
            continue
        names.add(name)
        provider = providers.get(name)
        if provider is not None:
            pending.extend(provider.parsed_fn_signature.parameters)
    return names


def problems_of(route: HTTPRoute, handler: HTTPRouteHandler, method: str) -> set[int]:
    """The problem statuses an operation can answer, from what it is and what it uses."""
    used = _used_names(handler)
    statuses = {400, 503}  # strict parameters, and a database that may be away
    guards = handler.resolve_guards()
    if not _OPEN.match(route.path):
        statuses |= {401, 429}  # failed authentications are rate-limited too
    if _SIGNED.match(route.path):
        statuses |= {401, 413}  # signatures, and bodies stored whole
    if rate_limited(handler):
        statuses.add(429)
    if guards or "actor" in used:
        statuses.add(403)  # a role guard, or the domain's rules for the acting principal
    if route.path_parameters or (method in _WRITES and not _SIGNED.match(route.path)):
        statuses.add(404)
    if "data" in used:
        statuses |= {413, 415}
    if method in _WRITES and not _SIGNED.match(route.path):
        # Changed concurrently or a name taken (409); a rule of the domain or of the
        # configuration refuses it (422), e.g. revoking the bootstrap token.
        statuses |= {409, 422}
    if "expected_version" in used:
        statuses.add(412)
    if used & {"caught_up", "reader"}:
        statuses.add(504)
    return statuses


def _problem_response(status: int) -> ResponseSpec:
    return ResponseSpec(
        data_container=ProblemDetails,
        description=_WHY[status],
        media_type=_PROBLEM,
        generate_examples=False,
    )


def _operations(app: Litestar) -> Iterable[tuple[HTTPRoute, HTTPRouteHandler, str]]:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.resolve_include_in_schema():
                for method in handler.http_methods:
                    yield route, handler, method


# Parameters that mean the same on every operation that takes them, described once.
_PARAMETERS = {
    "team": "A team's slug or id: only what belongs to that team.",
    "service": "A service or repository (e.g. `acme/billing-api`).",
    "channel": "Only feedback that came through this channel.",
    "touchpoint": "Only feedback about this touchpoint (product, onboarding, billing, …).",
    "outcome": "Only what serves this outcome (its id).",
    "received_from": "Only feedback received at or after this time (RFC 3339 with offset).",
    "received_to": "Only feedback received before this time (RFC 3339 with offset).",
    "as_of": "How it stood in the world at this time (RFC 3339): each event's own time.",
    "known_at": "What Loopline had recorded by this time (RFC 3339): the recording time.",
    "cursor": "The `next_cursor` of the previous page; omit it for the first page.",
    "limit": "At most this many items in the page.",
    "production": "true: production deployments only; false: the other environments only.",
    "source": "Only deliveries from this source (github, gitlab, generic).",
    "Last-Event-ID": "Resume after this event (the `id` of the last one received).",
}
# `status` differs by resource: the life cycle of what the path lists.
_STATUS = {
    "/api/feedback": "Only feedback in this life-cycle status.",
    "/api/increments": "Only increments that succeeded, failed or were rolled back.",
    "/api/incidents": "Only incidents that are `open` or `resolved`.",
}


def _described(path: str, name: str) -> str | None:
    if name == "status":
        return _STATUS.get(path)
    return _PARAMETERS.get(name)


def _documented(
    base: type[Operation], path: str, problems: frozenset[int], example: dict[str, Any] | None
) -> type[Operation]:
    """An Operation class that completes what Litestar generates: problem+json next to a
    handler's own body for the same status (e.g. /readyz answers 503 with its report, or a
    problem when the database does not answer), the request body's example, and the
    description of parameters that are described once (`_PARAMETERS`)."""

    class Documented(base):  # type: ignore[valid-type,misc]
        def to_schema(self) -> dict[str, Any]:
            schema: dict[str, Any] = super().to_schema()
            for status in problems:
                response = schema["responses"][str(status)]
                response.setdefault("content", {})[_PROBLEM] = {
                    "schema": {"$ref": f"#/components/schemas/{ProblemDetails.__name__}"}
                }
            for parameter in schema.get("parameters", []):
                if not parameter.get("description"):
                    described = _described(path, parameter["name"])
                    if described:
                        parameter["description"] = described
            if example is not None and "requestBody" in schema:
                for media in schema["requestBody"]["content"].values():
                    media["examples"] = {"example": {"value": example}}
            return schema

    return Documented


def body_type(handler: HTTPRouteHandler) -> type | None:
    """The Struct a handler's request body is converted into, if it takes one."""
    fields = {}
    for provider in handler.resolve_dependencies().values():
        fields.update(provider.parsed_fn_signature.parameters)
    fields.update(handler.parsed_fn_signature.parameters)
    data = fields.get("data")
    if data is None:
        return None
    for candidate in [data.annotation, *(t.annotation for t in data.inner_types)]:
        if isinstance(candidate, type) and candidate is not type(None):
            return candidate
    return None


def document(app: Litestar) -> Litestar:
    """Adds to each operation its bearer requirement and every problem it can answer.

    The routes hold their own copies of the handlers, so this changes only this app; it
    runs before the document is first built (Litestar builds it on first use).
    """
    for route, handler, method in _operations(app):
        if not _OPEN.match(route.path):
            handler.security = [{BEARER: []}]
        declared: dict[int, ResponseSpec] = dict(handler.responses or {})
        problems = problems_of(route, handler, method)
        shared = frozenset(problems & {*declared, handler.status_code})
        body = body_type(handler)
        example = EXAMPLES.get(body.__name__) if body is not None else None
        handler.operation_class = _documented(
            handler.operation_class, route.path_format, shared, example
        )
        for status in problems - {handler.status_code}:
            declared.setdefault(status, _problem_response(status))
        handler.responses = dict(sorted(declared.items()))
    return app
