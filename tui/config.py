"""`tui.toml`: the terminal UI's own settings (server, token file, keys by binding id, theme).

Read once at start; anything wrong in it is one `ConfigError` line naming the file and
what is wrong, never a traceback (docs/tui.md shows an example file).
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from pathlib import Path

import msgspec
import platformdirs
from textual.theme import BUILTIN_THEMES

FILE_NAME = "tui.toml"


class ConfigError(ValueError):
    """Raised when the config file cannot be read or holds an unusable value."""


class TuiConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: str | None = None
    """The API's base URL (default: the local `loopline up`)."""
    token_file: str | None = None
    """A file holding the bearer token (relative to the config file's folder; `~` works);
    `load` makes it absolute."""
    theme: str | None = None
    """One of Textual's themes (`textual-dark`, `nord`, `gruvbox`, …)."""
    keymap: dict[str, str] = msgspec.field(default_factory=dict)
    """Binding id → key(s), e.g. `"inbox.triage" = "T"` or `"inbox.down" = "j,down"`."""

    def token(self) -> str | None:
        """The token the token file holds (None without a token file)."""
        if self.token_file is None:
            return None
        try:
            text = Path(self.token_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(
                f"cannot read the token file {self.token_file}: {error.strerror}"
            ) from None
        if not text:
            raise ConfigError(f"the token file {self.token_file} is empty")
        return text


def default_path() -> Path:
    """`~/.config/loopline/tui.toml` on Linux (`$XDG_CONFIG_HOME/loopline/…` when set), the
    platform's user config folder elsewhere."""
    return platformdirs.user_config_path("loopline", appauthor=False) / FILE_NAME


def load(path: Path | None, binding_ids: Collection[str]) -> TuiConfig:
    """The config at `path` (a missing file is an error), or at `default_path()` (a missing
    file there is an empty config). `binding_ids` are those a keymap may name."""
    given = path is not None
    path = (path or default_path()).expanduser()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if given:
            raise ConfigError(f"{path}: no such file") from None
        return TuiConfig()
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    try:
        config = msgspec.convert(data, TuiConfig)
    except msgspec.ValidationError as error:
        raise ConfigError(f"{path}: {_explain(str(error))}") from None
    return _checked(config, path, binding_ids)


def _checked(config: TuiConfig, path: Path, binding_ids: Collection[str]) -> TuiConfig:
    if config.url is not None and not config.url.startswith(("http://", "https://")):
        raise ConfigError(f"{path}: url must start with http:// or https:// (got {config.url!r})")
    if config.theme is not None and config.theme not in BUILTIN_THEMES:
        raise ConfigError(
            f"{path}: unknown theme {config.theme!r} (one of: {', '.join(BUILTIN_THEMES)})"
        )
    unknown = sorted(set(config.keymap) - set(binding_ids))
    if unknown:
        raise ConfigError(
            f"{path}: keymap names no binding {', '.join(map(repr, unknown))} (`?` in the"
            " app shows each screen's actions; docs/tui.md lists their ids)"
        )
    for ident, keys in config.keymap.items():
        if not keys.strip() or any(not k.strip() or " " in k.strip() for k in keys.split(",")):
            raise ConfigError(
                f"{path}: keymap {ident!r} = {keys!r} is not a key or a comma-separated list"
                ' of keys (e.g. "T", "ctrl+t", "j,down")'
            )
    if config.token_file is None:
        return config
    token_file = Path(config.token_file).expanduser()
    if not token_file.is_absolute():
        token_file = path.parent / token_file
    return msgspec.structs.replace(config, token_file=str(token_file))


def _explain(message: str) -> str:
    """msgspec's message in the file's terms: `$.keymap[...]` → `keymap`."""
    return message.replace("`$.", "`").replace("`$`", "the file").replace("Object", "The file")
