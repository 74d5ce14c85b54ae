"""The README's configuration table names every setting, with its default."""

from __future__ import annotations

from pathlib import Path

from infra.settings import ENVIRONMENT, Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def _rows() -> dict[str, str]:
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            variable = line.split("`")[1]
            rows[variable] = line
    return rows


def test_every_environment_variable_is_documented_with_its_default() -> None:
    rows = _rows()
    defaults = Settings()
    for name, variable in ENVIRONMENT.items():
        assert variable in rows, f"{variable} is missing from the README's configuration table"
        default = getattr(defaults, name)
        if isinstance(default, str | int | float) and not isinstance(default, bool):
            assert f"`{default}`" in rows[variable], f"README: {variable} default is {default}"


def test_the_table_documents_no_setting_that_does_not_exist() -> None:
    assert set(_rows()) <= set(ENVIRONMENT.values())
