"""`loopline tui` and `loopline web`: find the API (flags, the config file, else the local
`loopline up` instance), check it answers, then run the terminal UI in this terminal or
serve it to browsers."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import httpx
import typer

from infra.settings import SettingsError, load_settings

if TYPE_CHECKING:
    from tui.config import TuiConfig

Url = Annotated[
    str | None,
    typer.Option(help="The API's base URL (default: the config file's, else the local `up`)."),
]
Token = Annotated[
    str | None,
    typer.Option(
        help="Bearer token (default: LOOPLINE_ADMIN_TOKEN, the config's token_file, else the"
        " local token file)."
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(help="Data directory of the local instance (env LOOPLINE_DATA_DIR)."),
]
Config = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="The terminal UI's config file (default: ~/.config/loopline/tui.toml, or under"
        " $XDG_CONFIG_HOME).",
    ),
]


class NoServer(RuntimeError):
    """Raised when no Loopline server can be found or none answers."""


def resolve(
    url: str | None,
    token: str | None,
    data_dir: Path | None,
    config: TuiConfig | None = None,
) -> tuple[str, str | None]:
    """The URL and token to use: the flags, else the config file's, else what the local
    instance wrote down (the token: LOOPLINE_ADMIN_TOKEN before the config's token file)."""
    settings = load_settings(data_dir=data_dir)
    if url is None and config is not None:
        url = config.url
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
    if token is None and config is not None:
        token = config.token()
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


def _fail(error: Exception) -> typer.Exit:
    typer.echo(f"loopline: error: {error}", err=True)
    return typer.Exit(1)


def _config(path: Path | None) -> TuiConfig:
    # Textual loads only for the commands that run the UI; importing the app declares
    # every screen's bindings, whose ids a keymap may name.
    import tui.app  # noqa: F401
    from tui.config import load
    from tui.keys import binding_ids

    return load(path, binding_ids())


def tui(
    url: Url = None, token: Token = None, data_dir: DataDir = None, config: Config = None
) -> None:
    """Triage and watch outcomes in the terminal (an HTTP client of the API)."""
    from tui.app import LooplineApp
    from tui.config import ConfigError

    try:
        chosen = _config(config)
        url, token = resolve(url, token, data_dir, chosen)
        check_answers(url)
    except (ConfigError, NoServer, SettingsError) as error:
        raise _fail(error) from None
    LooplineApp(url, token, keymap=chosen.keymap, theme=chosen.theme).run()


def web(
    url: Url = None,
    data_dir: DataDir = None,
    config: Config = None,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on (127.0.0.1: this machine only)."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
    public_url: Annotated[
        str | None,
        typer.Option(help="The address browsers use, when behind a proxy (https://…)."),
    ] = None,
) -> None:
    """Serve the terminal UI to web browsers (each browser tab runs its own `loopline tui`).

    No --token: a token on this command line would show in the process list; the UI finds
    it as `loopline tui` does (LOOPLINE_ADMIN_TOKEN, the config's token_file, the local
    token file)."""
    from tui.config import ConfigError
    from tui.web import WebServer

    try:
        chosen = _config(config)
        url, token = resolve(url, None, data_dir, chosen)
        check_answers(url)
    except (ConfigError, NoServer, SettingsError) as error:
        raise _fail(error) from None
    if token is None:
        raise _fail(NoServer(f"no token for {url}: set LOOPLINE_ADMIN_TOKEN or token_file"))
    command = [sys.executable, "-m", "loopline.tui_cli", "--url", url]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    if config is not None:
        command += ["--config", str(config)]
    WebServer(
        shlex.join(command), host=host, port=port, title="Loopline", public_url=public_url
    ).serve()


if __name__ == "__main__":
    # What each browser tab of `loopline web` runs: the terminal UI alone (the full CLI
    # would load the server's modules for nothing).
    typer.run(tui)
