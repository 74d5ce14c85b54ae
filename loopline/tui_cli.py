"""`loopline tui`: find the API (flags, else the local `loopline up` instance), check it
answers, then run the terminal UI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import httpx
import typer

from infra.settings import load_settings

Url = Annotated[
    str | None, typer.Option(help="The API's base URL (default: the local `loopline up`).")
]
Token = Annotated[
    str | None,
    typer.Option(help="Bearer token (default: LOOPLINE_ADMIN_TOKEN, else the local token file)."),
]
DataDir = Annotated[
    Path | None,
    typer.Option(help="Data directory of the local instance (env LOOPLINE_DATA_DIR)."),
]


class NoServer(RuntimeError):
    """Raised when no Loopline server can be found or none answers."""


def resolve(url: str | None, token: str | None, data_dir: Path | None) -> tuple[str, str | None]:
    """The URL and token to use: the flags, else what the local instance wrote down."""
    settings = load_settings(data_dir=data_dir)
    if url is None:
        try:
            url = str(json.loads(settings.instance_file.read_text(encoding="utf-8"))["url"])
        except (OSError, ValueError, KeyError, TypeError):
            raise NoServer(
                f"no local Loopline instance in {settings.data_dir}: start one with "
                "`loopline up`, or pass --url"
            ) from None
    if token is None:
        token = settings.admin_token
    if token is None:
        try:
            token = settings.token_file.read_text(encoding="utf-8").strip() or None
        except OSError:
            token = None
    return url, token


def check_answers(url: str) -> None:
    try:
        response = httpx.get(url.rstrip("/") + "/healthz", timeout=3.0)
    except httpx.HTTPError:
        raise NoServer(f"no Loopline server answers at {url} (is `loopline up` running?)") from None
    if not response.is_success:
        raise NoServer(f"the server at {url} is not healthy (HTTP {response.status_code})")


def tui(url: Url = None, token: Token = None, data_dir: DataDir = None) -> None:
    """Triage and watch outcomes in the terminal (an HTTP client of the API)."""
    try:
        url, token = resolve(url, token, data_dir)
        check_answers(url)
    except NoServer as error:
        typer.echo(f"loopline: error: {error}", err=True)
        raise typer.Exit(1) from None
    from tui.app import LooplineApp  # Textual loads only for this command

    LooplineApp(url, token).run()
