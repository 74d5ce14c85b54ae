"""`tui.toml`: what a good file gives the app, and one readable line for each bad one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tui.app  # noqa: F401  (declares every screen's bindings)
from tui.config import ConfigError, TuiConfig, default_path, load
from tui.keys import binding_ids


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tui.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("secret-token\n", encoding="utf-8")
    path = write(
        tmp_path,
        'url = "https://loopline.example.org"\ntoken_file = "token"\ntheme = "nord"\n'
        '[keymap]\n"inbox.triage" = "T"\n"inbox.down" = "j,down"\n',
    )
    config = load(path, binding_ids())
    assert config.url == "https://loopline.example.org"
    # A relative token file is beside the config file.
    assert config.token_file == str(tmp_path / "token")
    assert config.token() == "secret-token"
    assert config.theme == "nord"
    assert config.keymap == {"inbox.triage": "T", "inbox.down": "j,down"}


def test_no_file_at_the_default_place_is_an_empty_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert default_path() == tmp_path / "config" / "loopline" / "tui.toml"
    assert load(None, binding_ids()) == TuiConfig()


def test_the_default_place_follows_xdg_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "loopline").mkdir()
    (tmp_path / "loopline" / "tui.toml").write_text('theme = "dracula"\n', encoding="utf-8")
    assert load(None, binding_ids()).theme == "dracula"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("theme = \n", "not valid TOML"),
        ('colour = "red"\n', "unknown field `colour`"),
        ('theme = "neon"\n', "unknown theme 'neon'"),
        ('url = "localhost:8000"\n', "url must start with http:// or https://"),
        ('[keymap]\n"inbox.triag" = "T"\n', "keymap names no binding 'inbox.triag'"),
        ('[keymap]\n"inbox.triage" = "shift t"\n', "is not a key"),
        ('[keymap]\n"inbox.triage" = 3\n', "Expected `str`, got `int` - at `keymap[...]`"),
        ('token_file = "missing"\n', None),
    ],
)
def test_a_bad_file_is_one_line_naming_it(tmp_path: Path, text: str, says: str | None) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load(path, binding_ids()).token()
    message = str(raised.value)
    assert "\n" not in message
    assert str(tmp_path) in message
    if says is not None:
        assert says in message


def test_a_config_named_on_the_command_line_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "nope.toml", binding_ids())


def test_docs_list_every_binding_id_and_no_other() -> None:
    """docs/tui.md's table of binding ids is what a keymap may name: each id the UI declares
    is there (a screen added without its row left users guessing), and nothing else."""
    text = (Path(__file__).parents[2] / "docs" / "tui.md").read_text(encoding="utf-8")
    table = text.split("### Binding ids", 1)[1]
    documented = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            documented.update(re.findall(r"`([a-z_]+\.[a-z_]+)`", first_cell))
    # The palette's key is Textual's binding; the docs name it too.
    assert documented - {"app.command_palette"} == binding_ids()
