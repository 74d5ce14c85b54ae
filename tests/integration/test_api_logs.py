"""The server's log: structured lines with a request id (also in `X-Request-ID`), client
errors at INFO without a traceback, server failures at ERROR with one, and no secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog

from domain.errors import ConcurrencyConflict
from infra.database import DatabaseUnavailable
from infra.logs import configure_structlog, formatter
from server.logs import _log_problem
from tests.api_helpers import create_token
from tests.conftest import ADMIN_TOKEN
from tests.webhook_senders import SECRET, gitlab_headers


class _Lines(logging.Handler):
    """Every record as the JSON line a server with LOOPLINE_LOG_FORMAT=json writes."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter("json"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def parsed(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def log_lines() -> Iterator[_Lines]:
    configure_structlog()
    handler = _Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_client_errors_are_one_info_line_with_the_request_id(
    api: httpx.AsyncClient, log_lines: _Lines
) -> None:
    # A request for an item that does not exist, with an id chosen by the caller.
    missing = await api.get("/api/feedback/FB-99999", headers={"X-Request-ID": "trace-42"})
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == "trace-42"
    # One without a token gets an id of its own.
    refused = await api.get("/api/feedback", headers={"Authorization": ""})
    assert refused.status_code == 401
    generated = refused.headers["x-request-id"]
    assert generated
    assert generated != "trace-42"

    lines = log_lines.parsed()
    problems = [line for line in lines if line.get("event") == "request refused"]
    by_id = {line["request_id"]: line for line in problems}
    assert by_id["trace-42"]["level"] == "info"
    assert by_id["trace-42"]["status"] == 404
    assert by_id[generated]["status"] == 401
    for line in problems:
        assert "exception" not in line, line
    assert not [line for line in lines if line["level"] in {"error", "critical"}], lines
    # Every line written while serving a request names it.
    for line in lines:
        if line.get("logger") in {"loopline.http", "uvicorn.access"}:
            assert "request_id" in line, line


async def test_a_server_failure_is_an_error_with_its_traceback(log_lines: _Lines) -> None:
    scope: Any = {"type": "http", "method": "GET", "path": "/api/teams"}
    with structlog.contextvars.bound_contextvars(request_id="r-1"):
        try:
            raise RuntimeError("the disk caught fire")
        except RuntimeError:
            _log_problem(None, scope, [])

    [line] = [line for line in log_lines.parsed() if line.get("event") == "request failed"]
    assert line["level"] == "error"
    assert line["status"] == 500
    assert line["request_id"] == "r-1"
    assert "the disk caught fire" in json.dumps(line["exception"])


async def test_a_database_that_is_away_is_one_warning_line_without_a_traceback(
    log_lines: _Lines,
) -> None:
    scope: Any = {"type": "http", "method": "POST", "path": "/api/feedback"}
    try:
        raise DatabaseUnavailable("the database does not answer (ConnectionRefusedError)")
    except DatabaseUnavailable:
        _log_problem(None, scope, [])

    [line] = [line for line in log_lines.parsed() if line.get("status") == 503]
    assert line["level"] == "warning"
    assert line["event"] == "request deferred"
    assert "does not answer" in line["detail"]
    assert "exception" not in line


async def test_tokens_and_webhook_secrets_never_reach_the_log(
    api: httpx.AsyncClient, api_server: str, log_lines: _Lines
) -> None:
    # An admin creates a token, which is used and then sent wrong; an integration is set up
    # with a webhook secret, and deliveries arrive with the right and a wrong secret.
    token = await create_token(api, "product", name="logged")
    async with httpx.AsyncClient(base_url=api_server) as other:
        used = await other.get("/api/teams", headers={"Authorization": f"Bearer {token}"})
        assert used.status_code == 200
        wrong = await other.get("/api/teams", headers={"Authorization": f"Bearer {token}x"})
        assert wrong.status_code == 401
        created = await api.post(
            "/api/integrations",
            json={"source": "gitlab", "secret": SECRET, "repositories": ["acme/shop"]},
        )
        assert created.status_code == 201, created.text
        too_short = await api.post(
            "/api/integrations",
            json={"source": "gitlab", "secret": "short-secret", "repositories": ["acme/x"]},
        )
        assert too_short.status_code == 400
        body = b'{"object_kind": "push", "project": {"path_with_namespace": "acme/shop"}}'
        for secret in (SECRET, f"{SECRET}-wrong"):
            await other.post(
                "/webhooks/gitlab",
                content=body,
                headers=gitlab_headers("Push Hook", token=secret),
            )

    text = "\n".join(log_lines.lines)
    assert log_lines.lines
    for secret in (token, SECRET, "short-secret"):
        assert secret not in text
    assert ADMIN_TOKEN not in text


@pytest.mark.parametrize(("headers", "status"), [([(b"if-match", b'"3"')], 412), ([], 409)])
async def test_a_lost_race_is_logged_with_the_status_it_was_answered(
    log_lines: _Lines, headers: list[tuple[bytes, bytes]], status: int
) -> None:
    # A write whose append lost a race after its version check: answered 412 when it sent
    # If-Match (its precondition no longer holds), 409 otherwise; the log says the same.
    scope: Any = {"type": "http", "method": "POST", "path": "/api/feedback/FB-1/triage"}
    scope["headers"] = headers
    try:
        raise ConcurrencyConflict("changed concurrently", current_version=4)
    except ConcurrencyConflict:
        _log_problem(None, scope, [])

    [line] = [line for line in log_lines.parsed() if line.get("event") == "request refused"]
    assert line["status"] == status
