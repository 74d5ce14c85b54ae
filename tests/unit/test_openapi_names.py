"""The OpenAPI document's components follow one naming scheme (docs/api.md, "Names"):
`Thing`, `ThingCreate` (or another command), `ThingItem`, `ThingPage`, `ThingDetail`; no
module paths and no leftover suffixes of other schemes (`*View`, `*Out`)."""

from __future__ import annotations

import re

from tests.served import openapi

PLAIN = re.compile(r"^[A-Z][A-Za-z0-9]*$")
OTHER_SCHEMES = ("View", "Out", "Response", "Schema", "Model")


def test_every_component_is_named_in_the_one_scheme() -> None:
    names = list(openapi()["components"]["schemas"])

    assert [n for n in names if not PLAIN.match(n)] == []
    assert [n for n in names if n.endswith(OTHER_SCHEMES)] == []
    # One resource is its plain name, and its detail wraps it.
    assert {"Feedback", "FeedbackDetail", "Decision", "DecisionDetail"} <= set(names)
