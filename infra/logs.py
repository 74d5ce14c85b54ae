"""One log format for the whole process: structlog, rendered for people or as JSON lines.

structlog's events and the standard library's records (uvicorn, asyncpg, our own modules)
go through the same processors, so every line has a time, a level, the logger's name and,
while a request is being served, its request id (bound in a context variable).
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["console", "json"]


def _shared() -> list[Processor]:
    """What every line gets, whichever logging API wrote it."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _without_copies(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    # A standard record's formatted text is already the event; uvicorn adds a colored copy.
    event.pop("message", None)
    event.pop("color_message", None)
    return event


def processors() -> list[Processor]:
    """structlog's chain up to the standard library's handler, which renders the line."""
    return [
        *_shared(),
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ]


def formatter(log_format: LogFormat) -> logging.Formatter:
    renderer: Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
        final: list[Processor] = [structlog.processors.dict_tracebacks]
    else:
        # Plain tracebacks: structlog's default (rich, with every frame's locals) costs the
        # event loop up to seconds a traceback on a busy machine, stalling a process that is
        # reconnecting after a database restart, and prints locals (tokens) into the log.
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
        final = []
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared(), structlog.stdlib.ExtraAdder(), _without_copies],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *final,
            renderer,
        ],
    )


def configure_structlog() -> None:
    """structlog hands its events to the standard library (one output path, one format)."""
    structlog.configure(
        processors=processors(),
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def configure_logging(level: str, log_format: LogFormat) -> None:
    """The process's logging: one handler on stderr in `log_format`, at `level`."""
    configure_structlog()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn brings its own handlers; its records go through ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
