"""Finding `FB-<n>` and `DEC-<n>` references in commit messages, titles and branch names."""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec

from domain.errors import ValidationError
from domain.keys import DECISION_PREFIX, FEEDBACK_PREFIX, format_key

#: The default: `FB-12` or `DEC-7`, in any letter case, not glued to a longer word or number
#: (so `xFB-1` and `FB-12a` are not references, `fixes fb-12.` and `dec-7/login` are).
DEFAULT_PATTERN = r"(?<![A-Za-z0-9])(?P<prefix>FB|DEC)-(?P<number>[0-9]+)(?![A-Za-z0-9])"


class ReferencePattern(msgspec.Struct, frozen=True):
    """A regular expression with groups `prefix` (FB or DEC) and `number`, case-insensitive.

    Organisations may widen it, e.g. to `(?P<prefix>FB|DEC)[-_ ]?(?P<number>[0-9]+)`.
    """

    regex: str = DEFAULT_PATTERN

    def __post_init__(self) -> None:
        try:
            compiled = re.compile(self.regex, re.IGNORECASE)
        except re.error as e:
            raise ValidationError("pattern", f"not a regular expression: {e}") from None
        if not {"prefix", "number"} <= set(compiled.groupindex):
            raise ValidationError("pattern", "needs the named groups 'prefix' and 'number'")

    def compiled(self) -> re.Pattern[str]:
        return _compile(self.regex)

    def find(self, texts: Iterable[str]) -> References:
        """The distinct references in `texts`, in the order they first appear."""
        found: dict[str, None] = {}
        pattern = self.compiled()
        for text in texts:
            for match in pattern.finditer(text):
                prefix = match["prefix"].upper()
                number = int(match["number"])
                if prefix in (FEEDBACK_PREFIX, DECISION_PREFIX) and number > 0:
                    found.setdefault(format_key(prefix, number), None)
        keys = tuple(found)
        return References(
            feedback=tuple(k for k in keys if k.startswith(FEEDBACK_PREFIX + "-")),
            decisions=tuple(k for k in keys if k.startswith(DECISION_PREFIX + "-")),
        )


class References(msgspec.Struct, frozen=True):
    """Canonical keys referenced by an increment."""

    feedback: tuple[str, ...] = ()
    decisions: tuple[str, ...] = ()


_cache: dict[str, re.Pattern[str]] = {}


def _compile(regex: str) -> re.Pattern[str]:
    if regex not in _cache:
        _cache[regex] = re.compile(regex, re.IGNORECASE)
    return _cache[regex]


def extract_references(texts: Iterable[str], pattern: ReferencePattern | None = None) -> References:
    """The feedback and decision keys mentioned in `texts` (default pattern FB-n, DEC-n)."""
    return (pattern or ReferencePattern()).find(texts)
