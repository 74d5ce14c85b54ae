"""Litestar's Prometheus request metrics, for a dict lookup a request.

Litestar's middleware builds a `Request` and label dicts and asks `prometheus_client` for the
labelled children four times a request (`labels()` validates and hashes the values each
time): a third of what a read served from the cache costs. The same metrics, names and
labels come from here, with each (method, route, status)'s children looked up once.

Nor is it one of Litestar's `AbstractMiddleware`: those run each request through a wrapper
that decides, keyword by keyword, whether to skip the middleware; the same decision (scope
type, then the configured path patterns) is made here directly.
"""

from __future__ import annotations

import time
from typing import cast

from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

from server.problems import status_in

_Key = tuple[str, str]


class RequestMetrics:
    """`PrometheusMiddleware`'s metrics for a config without extra labels, exemplars,
    excluded methods or an exclusion opt key (Loopline's), keeping each label set's
    children."""

    def __init__(self, app: ASGIApp, config: PrometheusConfig) -> None:
        if config.labels or config.exemplars or config.excluded_http_methods:
            raise ValueError("RequestMetrics takes no extra labels, exemplars or excluded methods")
        if config.exclude_opt_key:
            raise ValueError("RequestMetrics takes no exclusion opt key")
        self.app = app
        self._config = config
        # Litestar's middleware makes (once a process) and names the metrics; its scopes
        # and compiled exclusion patterns are the ones checked here.
        self._metrics = PrometheusMiddleware(app, config)
        self._scopes = self._metrics.scopes
        self._exclude = self._metrics.exclude_pattern
        self._in_progress: dict[_Key, Gauge] = {}
        self._finished: dict[tuple[str, str, int], tuple[Counter, Histogram, Counter | None]] = {}

    def _labels(self, method: str, path: str, status: int) -> dict[str, str | int | float]:
        # The order of Litestar's default labels, which names the metrics' label columns.
        app = self._config.app_name
        return {"method": method, "path": path, "status_code": status, "app_name": app}

    def _gauge(self, key: _Key) -> Gauge:
        gauge = self._in_progress.get(key)
        if gauge is None:
            labels = self._labels(*key, 200)
            gauge = self._metrics.requests_in_progress(labels).labels(*labels.values())
            self._in_progress[key] = gauge
        return gauge

    def _counters(self, key: _Key, status: int) -> tuple[Counter, Histogram, Counter | None]:
        found = self._finished.get((*key, status))
        if found is None:
            metrics = self._metrics
            labels = self._labels(*key, status)
            values = list(labels.values())
            errors = metrics.requests_error_count(labels).labels(*values) if status >= 500 else None
            found = (
                metrics.request_count(labels).labels(*values),
                metrics.request_time(labels).labels(*values),
                errors,
            )
            self._finished[(*key, status)] = found
        return found

    def _excluded(self, scope: Scope) -> bool:
        """Litestar's `should_bypass_middleware` for this config."""
        if scope["type"] not in self._scopes:
            return True
        if self._exclude is None:
            return False
        mounted = getattr(scope.get("route_handler"), "is_mount", False)
        path: str = scope["raw_path"].decode() if mounted else scope["path"]
        return self._exclude.search(path) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._excluded(scope):
            await self.app(scope, receive, send)
            return
        method = cast("str", scope.get("method") or scope["type"])
        path: str = scope["path_template"] if self._config.group_path else scope["path"]
        key = (method, path)
        began = time.perf_counter()
        status = 200
        duration = 0.0

        async def measured(message: Message) -> None:
            nonlocal status, duration
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                duration = time.perf_counter() - began
            await send(message)

        gauge = self._gauge(key)
        gauge.inc()
        try:
            await self.app(scope, receive, measured)
        except Exception as error:
            # Raised past the route (the authentication middleware's 401, say): answered by
            # Litestar's outer error handling with the status the problem maps to.
            status = status_in(error, scope)
            duration = time.perf_counter() - began
            raise
        finally:
            gauge.dec()
            count, histogram, errors = self._counters(key, status)
            if errors is not None:
                errors.inc()
            count.inc()
            histogram.observe(duration)
