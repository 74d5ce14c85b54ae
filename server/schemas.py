"""The one base class of every HTTP request and response body."""

from __future__ import annotations

import msgspec


class Schema(msgspec.Struct, kw_only=True):
    """Base of request and response bodies: snake_case field names, keyword-only fields."""
