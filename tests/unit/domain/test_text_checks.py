"""Texts that PostgreSQL could not store, or no person typed, are refused up front."""

from __future__ import annotations

import pytest

from domain.common import check_text
from domain.errors import ValidationError


@pytest.mark.parametrize("bad", ["nul\x00byte", "bell\x07", "lone \ud800 surrogate", "del\x7f"])
def test_control_characters_and_lone_surrogates_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_text("text", bad, max_length=100)
    assert caught.value.field == "text"


def test_ordinary_whitespace_and_unicode_are_fine() -> None:
    check_text("text", "line one\n\tline two\r\nemoji 🚀 and ünïcödé", max_length=100)
