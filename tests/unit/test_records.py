"""Import rows become the API's own Structs through msgspec; a bad value is a `RowError`
naming its field (nested ones by their path)."""

from __future__ import annotations

import pytest

from loopline.records import RowError, convert
from server.delivery import IncrementCreate
from server.feedback import FeedbackCreate


def test_a_csv_row_of_text_becomes_the_api_struct() -> None:
    row = {"text": "Slow", "channel": "email", "nps": "7", "received_at": "2025-01-02T03:04:05Z"}

    data = convert(row, FeedbackCreate, from_text=True)

    assert data.nps == 7
    assert data.received_at is not None
    assert data.received_at.year == 2025
    assert data.channel == "email"


def test_blank_cells_count_as_absent() -> None:
    data = convert({"text": "x", "channel": "web", "nps": ""}, FeedbackCreate, from_text=True)

    assert data.nps is None


NOT_INT = "nps: expected `int | null`, got `str`"


@pytest.mark.parametrize(
    ("row", "from_text", "message"),
    [
        ({"channel": "web"}, True, "text: is missing"),
        ({"text": "x", "channel": "web", "nps": "seven"}, True, NOT_INT),
        ({"text": "x", "channel": "web", "nps": "7"}, False, NOT_INT),
        ({"text": "x", "channel": "fax"}, False, "channel: invalid enum value 'fax'"),
        ({"text": "x", "channel": "web", "received_at": "0.5"}, True, "received_at: not an ISO"),
        ({"text": "x", "channel": "web", "received_at": 1700000000}, False, "received_at: not"),
        (
            {"text": "x", "channel": "web", "received_at": "2025-01-02T03:04"},
            True,
            "received_at: needs",
        ),
    ],
)
def test_a_bad_value_names_its_field(row: dict[str, object], from_text: bool, message: str) -> None:
    with pytest.raises(RowError) as raised:
        convert(row, FeedbackCreate, from_text=from_text)

    assert str(raised.value).startswith(message), str(raised.value)


def test_a_nested_value_is_named_by_its_path() -> None:
    row = {
        "service": "billing-api",
        "environment": "production",
        "finished_at": "2025-01-02T03:04:05Z",
        "commits": [{"sha": "abc", "message": "m"}],
    }

    with pytest.raises(RowError) as raised:
        convert(row, IncrementCreate, from_text=False)

    assert str(raised.value) == "commits[0].authored_at: is missing"
