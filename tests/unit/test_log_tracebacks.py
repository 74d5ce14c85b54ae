"""Console log lines carry plain tracebacks: cheap to render, and no frame's locals."""

from __future__ import annotations

import logging
import sys

from infra.logs import configure_structlog, formatter


def test_a_console_traceback_is_plain_and_shows_no_locals() -> None:
    configure_structlog()
    token = "ll_secret-token-in-a-local"  # a local the traceback must not show
    try:
        raise RuntimeError(f"failed after reading a token of {len(token)} characters")
    except RuntimeError:
        record = logging.LogRecord(
            "loopline.http", logging.ERROR, __file__, 1, "request failed", (), sys.exc_info()
        )

    line = formatter("console").format(record)

    assert "Traceback (most recent call last):" in line
    assert "RuntimeError: failed after reading a token of 26 characters" in line
    assert token not in line
    assert "╭" not in line  # no rich panel
