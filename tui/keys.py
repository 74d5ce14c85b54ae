"""Key bindings in words: each binding says once what it does and where it belongs, and the
help screen and the command palette both read that from the bindings themselves."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen


class Section(StrEnum):
    """Where an action belongs in the help, in the order the help shows them."""

    ACT = "Act"
    MOVE = "Move"
    VIEW = "View"
    GO = "Go to"
    ANYWHERE = "Anywhere"


SECTIONS: dict[str, Section] = {}
"""Binding id → its section, filled by `bind` as the bindings are declared."""


def bind(
    keys: str,
    action: str,
    label: str,
    words: str,
    *,
    id: str,
    section: Section,
    show: bool = True,
    key_display: str | None = None,
) -> Binding:
    """A binding with an id (the keymap's name for it), a short footer `label` and `words`
    that say what it does (its tooltip; the help and the palette show them)."""
    SECTIONS[id] = section
    return Binding(keys, action, label, show=show, key_display=key_display, tooltip=words, id=id)


@dataclass(frozen=True)
class Action:
    """One action the current screen offers, as bound now (keymap applied)."""

    id: str
    section: Section
    keys: str
    label: str
    words: str
    action: str
    namespace: DOMNode


def actions(screen: Screen[object]) -> list[Action]:
    """What `screen` offers, each binding id once (keys of one id joined), in section order:
    the focused widget's, the screen's, then the app's. Bindings without an id are
    Textual's own (a table's page keys, an input's editing keys) and are left out, but for
    the command palette's key."""
    found: dict[str, Action] = {}
    app = screen.app
    # The binding chain applies the app's keymap, so the keys are the ones in force.
    for namespace, bindings in screen._binding_chain:
        for _, binding in bindings:
            ident = binding.id
            if ident is None and binding.action == "command_palette":
                ident = "app.command_palette"
            if ident is None:
                continue
            shown = app.get_key_display(binding)
            if ident in found:
                if found[ident].namespace is namespace and shown not in found[ident].keys:
                    previous = found[ident]
                    found[ident] = Action(
                        previous.id,
                        previous.section,
                        f"{previous.keys} / {shown}",
                        previous.label,
                        previous.words,
                        previous.action,
                        namespace,
                    )
                continue
            section = SECTIONS.get(ident)
            if section is None:
                section = Section.ANYWHERE if namespace is app else Section.ACT
            found[ident] = Action(
                ident,
                section,
                shown,
                binding.description or ident,
                binding.tooltip or binding.description or ident,
                binding.action,
                namespace,
            )
    order = list(Section)
    return sorted(found.values(), key=lambda a: order.index(a.section))


def binding_ids() -> set[str]:
    """Every binding id the terminal UI declares (what a keymap may name)."""
    return {
        binding.id
        for node in _our_nodes(DOMNode)
        for binding in Binding.make_bindings(node.BINDINGS)
        if binding.id is not None
    }


def _our_nodes(base: type[DOMNode]) -> Iterator[type[DOMNode]]:
    for sub in base.__subclasses__():
        if sub.__module__.split(".")[0] == "tui":
            yield sub
        yield from _our_nodes(sub)
