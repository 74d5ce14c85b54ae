"""Settings come from the environment as text and arrive typed; bad values name their variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings import SettingsError, load_settings


def test_every_kind_of_value_is_read_from_the_environment() -> None:
    settings = load_settings(
        {
            "LOOPLINE_DATA_DIR": "/srv/loopline",
            "LOOPLINE_PORT": "9000",
            "LOOPLINE_LOCK_TIMEOUT": "2.5",
            "LOOPLINE_RUN_PROJECTIONS": "false",
            "DATABASE_URL": "postgresql://db/loopline",
        }
    )
    assert settings.data_dir == Path("/srv/loopline")
    assert settings.port == 9000
    assert settings.lock_timeout == 2.5
    assert settings.run_projections is False
    assert settings.database_url == "postgresql://db/loopline"


def test_flags_override_the_environment() -> None:
    settings = load_settings({"LOOPLINE_PORT": "9000"}, port=9100, data_dir=Path("/tmp/x"))
    assert settings.port == 9100
    assert settings.data_dir == Path("/tmp/x")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("LOOPLINE_PORT", "eighty"), ("LOOPLINE_PORT", "70000"), ("LOOPLINE_POOL_MIN_SIZE", "0")],
)
def test_a_bad_value_is_one_clear_error(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    assert variable in str(caught.value) or "pool sizes" in str(caught.value)
