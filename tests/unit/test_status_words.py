"""Status words written out in the read models' SQL and the server's code are the domain's
enums' words (issue 14: a status is defined once; SQL that is not generated from the enums is
checked against them here). Renaming an enum member's value fails this test until every such
place follows."""

from __future__ import annotations

import re
from pathlib import Path

from domain.outcome import ACTIVE, RETIRED
from domain.vocabulary import DecisionStatus, FeedbackStatus, IncidentStatus, IncrementStatus

ROOT = Path(__file__).resolve().parents[2]
STATUSES = {
    *FeedbackStatus,
    *DecisionStatus,
    *IncrementStatus,
    *IncidentStatus,
    ACTIVE,
    RETIRED,
}
# `status = 'x'`, `status IN ('x', 'y')`, `status = "x"` (SQL and Python), any alias prefix.
_COMPARED = re.compile(
    r"""\bstatus\s*(?:=|==|!=|<>|\bIN\b|\bNOT\s+IN\b)\s*\(?\s*((?:['"][a-z_]+['"]\s*,?\s*)+)""",
    re.IGNORECASE,
)
_WORD = re.compile(r"""['"]([a-z_]+)['"]""")
# Words of the outside world the server reads, not statuses of ours: what delivery tooling
# reports (GitHub, GitLab, a generic sender, `IncrementCreate.status`), and the health check.
_SERVER = ROOT / "server"
_THEIRS = {"success", "failure", "failed", "error", "pending", "running", "canceled", "ok"}


def _written_statuses() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for folder in ("projections", "server"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text()
            for match in _COMPARED.finditer(text):
                words = set(_WORD.findall(match.group(1)))
                if path.is_relative_to(_SERVER):
                    words -= _THEIRS
                if words:
                    found.setdefault(str(path.relative_to(ROOT)), set()).update(words)
    return found


def test_every_status_word_in_sql_and_code_is_an_enum_member() -> None:
    found = _written_statuses()

    assert found, "the scan found no status comparisons at all (the pattern is off)"
    strays = {path: words - STATUSES for path, words in found.items() if words - STATUSES}
    assert strays == {}
