"""The Litestar application factory: routes, dependencies, errors and lifespan, step by step."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.di import Provide
from litestar.types import ControllerRouterHandler

from infra.settings import Settings
from projections.cache import ReadModelCache
from server.answers import (
    STORE,
    AnswerStore,
    answer_cache_config,
    check_cached_routes,
    serve_kept_answers,
)
from server.auth import TokenCache, authentication_middleware
from server.content import require_json_bodies
from server.decisions import DecisionController
from server.delivery import IncidentController, IncrementController
from server.dependencies import (
    provide_actor,
    provide_caught_up,
    provide_change,
    provide_expected_version,
    provide_pool,
    provide_principal,
    provide_reader,
    provide_settings,
    provide_store,
)
from server.feedback import FeedbackController
from server.health import HealthController
from server.lifespan import database_lifespan, replace_read_only_connections
from server.logs import logging_config, with_request_id
from server.metrics import MetricsController
from server.nps import NpsController
from server.openapi import document, openapi_config, to_the_docs
from server.operations import OperationsController, prometheus_config, request_metrics_middleware
from server.outcomes import OutcomeController
from server.problems import problem_details_plugin
from server.ratelimit import RateLimits, check_rate_limit
from server.stream import EventStreamController
from server.strict import make_queries_strict, strict_query
from server.teams import TeamController
from server.tokens import TokenController
from server.vocabulary import VocabularyController
from server.webhooks.controllers import route_handlers as webhook_route_handlers
from server.webhooks.integrations import IntegrationCache
from server.webhooks.lifespan import webhooks_lifespan


def route_handlers() -> list[ControllerRouterHandler]:
    return [
        to_the_docs,
        HealthController,
        OperationsController,
        EventStreamController,
        FeedbackController,
        TeamController,
        TokenController,
        OutcomeController,
        DecisionController,
        IncrementController,
        IncidentController,
        MetricsController,
        VocabularyController,
        NpsController,
        *webhook_route_handlers(),
    ]


def dependencies() -> dict[str, Provide]:
    return {
        "pool": Provide(provide_pool, sync_to_thread=False),
        "settings": Provide(provide_settings, sync_to_thread=False),
        "store": Provide(provide_store, sync_to_thread=False),
        "principal": Provide(provide_principal, sync_to_thread=False),
        "actor": Provide(provide_actor, sync_to_thread=False),
        "expected_version": Provide(provide_expected_version, sync_to_thread=False),
        "change": Provide(provide_change, sync_to_thread=False),
        "caught_up": Provide(provide_caught_up),
        "reader": Provide(provide_reader),
    }


async def check_request(request: Request[Any, Any, Any]) -> None:
    """Before any handler (after authentication and guards): the rate limit of the route, if
    it has one, then strict query strings, then a JSON body where there is one."""
    check_rate_limit(request)
    await strict_query(request)
    await require_json_bodies(request)


def create_app(settings: Settings, *, dsn: str | None = None) -> Litestar:
    """The API app; it opens its pool on `dsn`, or on the configured database when None.

    Migrations are applied by the CLI before serving; the app only refuses a
    database whose schema is not current.
    """
    read_models = ReadModelCache()
    answers = AnswerStore(read_models)
    tokens = TokenCache()
    app = Litestar(
        route_handlers=route_handlers(),
        dependencies=dependencies(),
        plugins=[problem_details_plugin()],
        middleware=[request_metrics_middleware(), authentication_middleware()],
        lifespan=[database_lifespan(settings, dsn), webhooks_lifespan(settings)],
        after_exception=[replace_read_only_connections],
        before_request=check_request,
        openapi_config=openapi_config(),
        logging_config=logging_config(),
        response_cache_config=answer_cache_config(),
        stores={STORE: answers},
        state=State(
            {
                "settings": settings,
                "metrics_cache": read_models,
                "token_cache": tokens,
                "integration_cache": IntegrationCache(),
                "rate_limits": RateLimits(settings),
            }
        ),
    )
    check_cached_routes(app)
    # Kept answers before routing; the request id outermost, so that refusals before
    # routing and by authentication, and kept answers, carry it too.
    kept = serve_kept_answers(app.asgi_handler, answers, tokens, prometheus_config())
    app.asgi_handler = with_request_id(kept)
    return make_queries_strict(document(app))
