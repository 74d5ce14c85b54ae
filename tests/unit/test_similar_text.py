"""How the duplicate suggestions read a text: thesaurus words as their group's first, and
the words a text's thesaurus groups add to its full-text query."""

from __future__ import annotations

from projections.similar import canonical, query_words
from projections.thesaurus import HEAD, MEMBERS


def test_other_words_for_the_same_thing_read_alike() -> None:
    # Two customers describe the same empty dashboard in different words.
    one = canonical("The dashboard charts are empty")
    other = canonical("Overview graphs are BLANK!")
    assert one == "the dashboard chart are empty"
    assert other == "dashboard chart are empty"
    # A word in no group is left as written (in lower case).
    assert canonical("Kaleidoscope view") == "kaleidoscope view"


def test_a_texts_groups_and_typos_widen_its_query() -> None:
    words, groups, lexemes = query_words("graphs stay blank", {})
    asked = dict(zip(words, groups, strict=True))
    # Its own words first, as written; a word of no group is its own group ("").
    assert words[:3] == ["graphs", "stay", "blank"]
    assert asked["stay"] == ""
    # Its groups' other words join, in the group of their first word.
    assert {"chart", "charts", "diagram", "empty", "white"} <= set(words)
    assert asked["charts"] == asked["graphs"] == "chart"
    assert asked["white"] == asked["blank"] == "empty"
    assert not any(lexemes)
    # A typo's corrections join as lexemes, in one group per typo.
    words, groups, lexemes = query_words("Kaleidoscope view", {"kalediscop": ["kaleidoscop"]})
    assert words == ["kaleidoscope", "view", "kaleidoscop"]
    assert groups == ["", "", "~kalediscop"]
    assert lexemes == [False, False, True]


def test_every_word_is_in_one_group() -> None:
    assert all(HEAD[w] == head for head, words in MEMBERS.items() for w in words)
    assert sum(len(words) for words in MEMBERS.values()) == len(HEAD)
