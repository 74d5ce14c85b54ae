"""What the declared lower bounds must provide: every module imports, the API app and its
OpenAPI document build, the CLI answers. `.ci/run` runs the unit tests once more in an
environment synced with `--resolution lowest-direct`, so these prove the bounds true."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from infra.settings import load_settings

PACKAGES = ["domain", "infra", "migrations", "projections", "server", "loopline", "tui"]
ROOT = Path(__file__).resolve().parents[2]


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        names.append(package)
        for module in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            names.append(module.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_every_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_the_api_and_its_openapi_document_build() -> None:
    from server.app import create_app

    app = create_app(load_settings({}, database_url="postgresql://unused/unused"))
    document = app.openapi_schema.to_schema()

    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "/api/feedback" in document["paths"]


def test_the_cli_answers() -> None:
    from loopline.cli import app

    result = CliRunner().invoke(app, ["--version"])

    assert result.exit_code == 0
    assert result.output.startswith("loopline ")


def _command_paths() -> list[list[str]]:
    """Every command and command group of the CLI, as the words that name it."""
    from loopline.cli import app

    paths: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        # Duck-typed: older Typer releases run on Click, newer ones on a copy of their own.
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda path: " ".join(path) or "loopline")
def test_every_command_shows_its_help(path: list[str]) -> None:
    """Help renders every parameter (Typer before 0.15.4 allowed Click 8.2, whose
    `make_metavar` it called the old way: `loopline web --help` was a TypeError)."""
    from loopline.cli import app

    result = CliRunner().invoke(app, [*path, "--help"])

    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
